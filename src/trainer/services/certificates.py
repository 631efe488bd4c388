"""修了証: issued once per trainee and course, verifiable by a public code, rendered as a PDF."""
from __future__ import annotations

import io
import secrets
from pathlib import Path

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from sqlalchemy import select

from trainer.dates import JST
from trainer.extensions import db
from trainer.models import Certificate, Course, Point, User
from trainer.services import progress, unique
from trainer.services.wareki import to_wareki

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
IPA_GOTHIC = Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf")


class CertificateError(ValueError):
    """The certificate cannot be issued; the message is shown to the trainee."""


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(value: str) -> str:
    raw = "".join(ch for ch in (value or "").upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:12]}" if len(raw) == 12 else raw


def find(code: str) -> Certificate | None:
    return db.session.scalar(select(Certificate).where(Certificate.code == normalise_code(code)))


def of_user(user: User) -> list[Certificate]:
    return list(db.session.scalars(select(Certificate).where(Certificate.user_id == user.id)))


def issue(user: User, course: Course) -> Certificate:
    """Issue (or return the already issued) certificate for a completed course."""
    def find() -> Certificate | None:
        return db.session.scalar(select(Certificate).where(
            Certificate.user_id == user.id, Certificate.course_id == course.id))

    if (existing := find()) is not None:
        return existing
    status = next((c for c in progress.courses(user) if c.course.id == course.id), None)
    if status is None or not status.completed:
        raise CertificateError("このコースのモジュールがすべて修了になると、修了証を発行できます。")
    points = sorted({p for row, _ in status.modules for p in row.points})
    organization, completed_on = user.organization.full_name, progress.completion_date(user, course)
    cert, _ = unique.find_or_create(find, lambda: Certificate(
        code=new_code(), user_id=user.id, course_id=course.id, holder_name=user.display_name,
        organization_name=organization, course_title=course.title, points=points, completed_on=completed_on,
    ))
    return cert


def _font() -> str:
    """IPAGothic embedded when installed; otherwise the built-in Japanese CID font."""
    if IPA_GOTHIC.exists():
        if "IPAGothic" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("IPAGothic", str(IPA_GOTHIC)))
        return "IPAGothic"
    if "HeiseiKakuGo-W5" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    return "HeiseiKakuGo-W5"


def japanese_date(value) -> str:
    local = value.astimezone(JST).date()
    return f"{to_wareki(local)}（{local.isoformat()}）"


def render_pdf(cert: Certificate, verify_url: str) -> bytes:
    """An A4 landscape PDF with the holder, organization, course, date, points and code."""
    font = _font()
    buffer = io.BytesIO()
    width, height = landscape(A4)
    pdf = canvas.Canvas(buffer, pagesize=(width, height))
    pdf.setTitle(f"修了証 {cert.course_title} {cert.holder_name}")
    pdf.setLineWidth(2)
    pdf.rect(28, 28, width - 56, height - 56)
    pdf.setFont(font, 34)
    pdf.drawCentredString(width / 2, height - 100, "修 了 証")
    pdf.setFont(font, 22)
    pdf.drawCentredString(width / 2, height - 160, f"{cert.holder_name} 殿")
    pdf.setFont(font, 12)
    pdf.drawCentredString(width / 2, height - 185, cert.organization_name)
    pdf.setFont(font, 13)
    lines = [f"あなたは「{cert.course_title}」の全モジュールを修了したことを証します。",
             "厚生労働省「ひきこもり支援ハンドブック～寄り添うための羅針盤～」に沿った研修です。"]
    for i, line in enumerate(lines):
        pdf.drawCentredString(width / 2, height - 225 - i * 20, line)
    pdf.drawCentredString(width / 2, height - 280, f"修了日　{japanese_date(cert.completed_on)}")
    _draw_points(pdf, font, cert, width, height - 315)
    pdf.setFont(font, 11)
    pdf.drawString(50, 60, f"確認番号　{cert.code}")
    pdf.drawString(50, 44, f"真正性の確認: {verify_url}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _draw_points(pdf, font: str, cert: Certificate, width: float, top: float) -> None:
    titles = dict(db.session.execute(select(Point.id, Point.title).where(Point.id.in_(cert.points))).all())
    pdf.setFont(font, 9)
    pdf.drawString(50, top, f"学習した支援のポイント（{len(cert.points)}）")
    column_width = (width - 100) / 2
    rows = (len(cert.points) + 1) // 2
    for index, point_id in enumerate(cert.points):
        col, row = divmod(index, rows)
        text = f"{point_id} {titles.get(point_id, '')}"
        while pdf.stringWidth(text, font, 7) > column_width - 8 and len(text) > 4:
            text = text[:-2] + "…"
        pdf.setFont(font, 7)
        pdf.drawString(50 + col * column_width, top - 12 - row * 9, text)
