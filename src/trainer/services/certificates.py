"""修了証: issued once per trainee and course, verifiable by a public code, rendered as a PDF."""
from __future__ import annotations

import io
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import segno
from flask import current_app, url_for

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
DEFAULT_ISSUER = "ひきこもり支援 研修 運営事務局"
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


def verify_url(code: str) -> str:
    """The certificate's verification page on the configured public address (PUBLIC_URL, e.g.
    https://kenshu.example.lg.jp), else on the address of the current request."""
    path = url_for("main.verify", code=code)
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return f"{base}{path}" if base else url_for("main.verify", code=code, _external=True)


# --- layout: measured top-down, every block inside its own band, nothing overlaps ---------------

PAGE_W, PAGE_H = landscape(A4)
MARGIN = 50  # text starts inside the frame (drawn at 28 pt)
QR_SIZE = 84
FOOTER_TOP = 40 + QR_SIZE + 10  # the footer band (code, issuer, dates, URL, QR) is below this line


@dataclass(frozen=True)
class Line:
    """One line of text placed on the page (baseline y, left x or centre), for drawing and testing."""

    text: str
    size: float
    x: float
    y: float
    centred: bool = False


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (Japanese breaks anywhere; a run of Latin
    letters or digits is kept whole when it fits)."""
    lines, current = [], ""
    for token in re.findall(r"[A-Za-z0-9@._:/\-]+|\s|.", text or ""):
        if pdfmetrics.stringWidth(current + token, font, size) <= width:
            current += token
            continue
        if current.strip():
            lines.append(current.rstrip())
        current = token.lstrip()
        while pdfmetrics.stringWidth(current, font, size) > width:  # a single run wider than the line
            cut = len(current)
            while cut > 1 and pdfmetrics.stringWidth(current[:cut], font, size) > width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    if current.strip():
        lines.append(current.rstrip())
    return lines or [""]


def _fit(text: str, font: str, sizes: tuple[float, ...], width: float, max_lines: int) -> tuple[float, list[str]]:
    """The largest size at which ``text`` takes at most ``max_lines`` lines; at the smallest size,
    the lines beyond are cut with an ellipsis (the verification page shows the whole text)."""
    for size in sizes:
        lines = wrap(text, font, size, width)
        if len(lines) <= max_lines:
            return size, lines
    size = sizes[-1]
    lines = wrap(text, font, size, width)[:max_lines]
    last = lines[-1]
    while last and pdfmetrics.stringWidth(last + "…", font, size) > width:
        last = last[:-1]
    lines[-1] = last + "…"
    return size, lines


def layout(cert: Certificate, verify: str, issuer: str, titles: dict[str, str], font: str) -> dict[str, list]:
    """Where every line goes: the body from the top, the footer band at the bottom, the list of
    points in between at the largest type that fits its band. Returns the placed lines by block."""
    width = PAGE_W - 2 * MARGIN
    centre = PAGE_W / 2
    out: dict[str, list] = {"body": [], "points": [], "footer": []}
    y = PAGE_H - 95
    out["body"].append(Line("修 了 証", 34, centre, y, True))
    y -= 24
    for key, text, sizes, max_lines in (
            ("name", f"{cert.holder_name} 殿", (22, 20, 18, 16, 14), 2),
            ("org", cert.organization_name, (12, 11, 10, 9), 2),
            ("statement", f"あなたは「{cert.course_title}」の全モジュールを修了したことを証します。", (13, 12, 11, 10), 3),
            ("source", "厚生労働省「ひきこもり支援ハンドブック～寄り添うための羅針盤～」に沿った研修です。", (11, 10), 2),
            ("completed", f"修了日　{japanese_date(cert.completed_on)}", (13, 12), 1)):
        size, lines = _fit(text, font, sizes, width, max_lines)
        if key in ("statement", "completed"):
            y -= 6
        for line in lines:
            y -= size * 1.35
            out["body"].append(Line(line, size, centre, y, True))
    _place_points(out, cert, titles, font, top=y - 14, bottom=FOOTER_TOP, width=width)
    _place_footer(out, cert, verify, issuer, font)
    return out


def _place_points(out: dict, cert: Certificate, titles: dict[str, str], font: str, top: float, bottom: float,
                  width: float) -> None:
    header = 9
    out["points"].append(Line(f"学習した支援のポイント（{len(cert.points)}）", header, MARGIN, top - header))
    band = top - header - 4 - bottom
    count = max(len(cert.points), 1)
    for size in (9, 8.5, 8, 7.5, 7, 6.5, 6):
        for columns in (1, 2, 3, 4):
            rows = -(-count // columns)
            if rows * size * 1.3 <= band and (columns == 1 or size >= 7 or columns == 4):
                return _point_lines(out, cert, titles, font, size, columns, rows, top - header - 4, width)
    _point_lines(out, cert, titles, font, 6, 4, -(-count // 4), top - header - 4, width)  # never reached at 50 points


def _point_lines(out, cert, titles, font, size, columns, rows, top, width) -> None:
    column_width = width / columns
    for index, point_id in enumerate(cert.points):
        col, row = divmod(index, rows)
        text = f"{point_id} {titles.get(point_id, '')}"
        if pdfmetrics.stringWidth(text, font, size) > column_width - 10:
            while len(text) > 4 and pdfmetrics.stringWidth(text + "…", font, size) > column_width - 10:
                text = text[:-1]
            text += "…"
        out["points"].append(Line(text, size, MARGIN + col * column_width, top - (row + 1) * size * 1.3))


def _place_footer(out: dict, cert: Certificate, verify: str, issuer: str, font: str) -> None:
    width = PAGE_W - 2 * MARGIN - QR_SIZE - 20
    y = 44
    url_size, url_lines = _fit(f"真正性の確認（右のQRコードからも開けます）: {verify}", font, (8, 7, 6), width, 2)
    for line in reversed(url_lines):
        out["footer"].append(Line(line, url_size, MARGIN, y))
        y += url_size * 1.3
    y += 3
    out["footer"].append(Line(f"確認番号　{cert.code}", 12, MARGIN, y))
    y += 12 * 1.4
    out["footer"].append(Line(f"発行日　{japanese_date(cert.issued_at)}", 10, MARGIN, y))
    y += 10 * 1.4
    size, lines = _fit(f"発行者　{issuer}", font, (10, 9, 8), width, 1)
    out["footer"].append(Line(lines[0], size, MARGIN, y))


def render_pdf(cert: Certificate, verify_url: str, issuer: str | None = None) -> bytes:
    """An A4 landscape PDF: holder, organization, course, completion date, the points learnt, and a
    footer with the verification code, issuer, issue date, the verification URL and its QR code."""
    font = _font()
    issuer = issuer or current_app.config.get("CERTIFICATE_ISSUER") or DEFAULT_ISSUER
    titles = dict(db.session.execute(select(Point.id, Point.title).where(Point.id.in_(cert.points))).all())
    placed = layout(cert, verify_url, issuer, titles, font)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(PAGE_W, PAGE_H))
    pdf.setTitle(f"修了証 {cert.course_title} {cert.holder_name}")
    pdf.setLineWidth(2)
    pdf.rect(28, 28, PAGE_W - 56, PAGE_H - 56)
    for block in placed.values():
        for line in block:
            pdf.setFont(font, line.size)
            (pdf.drawCentredString if line.centred else pdf.drawString)(line.x, line.y, line.text)
    _draw_qr(pdf, verify_url, PAGE_W - MARGIN - QR_SIZE, 40, QR_SIZE)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR code's modules (dark = True), without the quiet zone."""
    return [[bool(v) for v in row] for row in segno.make(url, error="m", micro=False).matrix]


def _draw_qr(pdf, url: str, x: float, y: float, size: float) -> None:
    matrix = qr_matrix(url)
    n = len(matrix)
    module = size / (n + 8)  # a quiet zone of 4 modules on each side
    pdf.setFillColorRGB(1, 1, 1)
    pdf.rect(x, y, size, size, stroke=0, fill=1)
    pdf.setFillColorRGB(0, 0, 0)
    path = pdf.beginPath()  # one path of runs of dark modules: a small, fast drawing
    for r, row in enumerate(matrix):
        c = 0
        while c < n:
            if not row[c]:
                c += 1
                continue
            start = c
            while c < n and row[c]:
                c += 1
            path.rect(x + (start + 4) * module, y + size - (r + 5) * module, (c - start) * module, module)
    pdf.drawPath(path, stroke=0, fill=1)
