"""The base form: Japanese validation messages from WTForms' own translations."""
from __future__ import annotations

from flask_wtf import FlaskForm


class JapaneseForm(FlaskForm):
    class Meta:
        locales = ["ja_JP", "ja"]
