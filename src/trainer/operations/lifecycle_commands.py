"""`trainer data ...`: retention purge and one person's record (see operations/lifecycle.py)."""
from __future__ import annotations

import click
from flask.cli import AppGroup


@click.group(cls=AppGroup, name="data")
def data_group() -> None:
    """個人データの保存期間と開示（data purge / data export-user）"""
