"""The certificate PDF is laid out so that nothing overlaps at any length of name, organization,
course title and point list (issue 17: the verification code was printed over the list of 47
points), with the issuer, an issue date distinct from the completion date, and a QR code that
encodes the verification page on the configured public URL.

Measured on the PDF itself: ``pdftotext -bbox`` gives every word's box; ``pdftoppm`` renders the
page so the QR code's modules can be read back and compared with the expected code."""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import Certificate, Point
from trainer.services import certificates
from trainer.services.wareki import to_wareki

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is required")  # CI installs it

WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')
PUBLIC = "https://kenshu.example.lg.jp"
PT_TO_PX = 300 / 72


def _words(pdf: bytes, tmp_path) -> list[tuple[float, float, float, float, str]]:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, check=True, text=True).stdout
    return [(float(a), float(b), float(c), float(d), html.unescape(t)) for a, b, c, d, t in WORD.findall(out)]


def _lines(words) -> list[str]:
    """The words joined into lines (same baseline, left to right)."""
    rows: dict[int, list] = {}
    for w in words:
        rows.setdefault(round(w[3]), []).append(w)
    return ["".join(w[4] for w in sorted(row)) for _, row in sorted(rows.items())]


def _overlap(a, b, tolerance=0.25) -> bool:
    return (min(a[2], b[2]) - max(a[0], b[0]) > tolerance) and (min(a[3], b[3]) - max(a[1], b[1]) > tolerance)


def _certificate(app, *, name: str, org: str, course: str, points: list[str]) -> Certificate:
    now = utcnow()
    return Certificate(code=certificates.new_code(), user_id=1, course_id="basic", holder_name=name,
                       organization_name=org, course_title=course, points=points,
                       completed_on=now - timedelta(days=40), issued_at=now)


def _all_points(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Point.id).order_by(Point.sort)))


LONGEST = {
    # the longest values the columns hold: name String(80), organization and course String(300)
    "name": ("長谷川　" + "ミドルネームの長い外国籍職員アレクサンドラ・ヴィクトリア・" * 3)[:80],
    "org": ("神奈川県藤沢市福祉健康部地域共生社会推進課ひきこもり地域支援センター相談支援係（サテライト窓口）" * 6)[:300],
    "course": ("ひきこもり状態にある人と家族への寄り添い支援　基礎から実践までの総合課程" * 10)[:300],
}


@pytest.mark.parametrize("case", ["longest", "shortest", "latin"])
def test_nothing_overlaps_and_everything_is_on_the_page(app, small_content, tmp_path, monkeypatch, case):
    points = _all_points(app)
    assert len(points) >= 47
    values = {"longest": dict(LONGEST, points=points),
              "shortest": {"name": "林", "org": "市", "course": "基礎", "points": points[:1]},
              "latin": {"name": "Alexandra-Victoria Montgomery-Smithson " * 2, "org": "NPO法人 Hikikomori Support Network " * 5,
                        "course": "Basic course " * 20, "points": points}}[case]
    with app.test_request_context("/"):
        monkeypatch.setitem(app.config, "PUBLIC_URL", PUBLIC)
        cert = _certificate(app, name=values["name"], org=values["org"], course=values["course"], points=values["points"])
        pdf = certificates.render_pdf(cert, certificates.verify_url(cert.code), issuer="藤沢市 ひきこもり地域支援センター")
    words = _words(pdf, tmp_path)
    width, height = certificates.PAGE_W, certificates.PAGE_H
    for w in words:  # inside the frame (drawn at 28 pt from each edge)
        assert 28 < w[0] and w[2] < width - 28 and 28 < w[1] and w[3] < height - 28, w
    clashes = [(a[4], b[4]) for i, a in enumerate(words) for b in words[i + 1:] if _overlap(a, b)]
    assert clashes == []
    qr_box = (width - certificates.MARGIN - certificates.QR_SIZE, height - 40 - certificates.QR_SIZE,
              width - certificates.MARGIN, height - 40)  # pdftotext's y grows downwards
    assert [w[4] for w in words if _overlap(w, qr_box)] == []
    text = "".join(w[4] for w in words)
    assert cert.code in text and "確認番号" in text
    assert all(p in text for p in values["points"]), "every point learnt is listed"
    assert f"{PUBLIC}/verify/{cert.code}" in text
    lines = _lines(words)
    issued, completed = to_wareki(cert.issued_at.date()), to_wareki(cert.completed_on.date())
    assert any(line.startswith(f"発行日{issued}") for line in lines) and issued != completed
    assert any(line.startswith(f"修了日{completed}") for line in lines)
    assert "発行者藤沢市ひきこもり地域支援センター" in lines


def test_the_qr_code_encodes_the_verification_page_on_the_public_url(app, small_content, tmp_path, monkeypatch):
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm (poppler-utils) is required")
    with app.test_request_context("/", base_url="http://10.0.0.5:8000"):
        monkeypatch.setitem(app.config, "PUBLIC_URL", PUBLIC + "/")
        cert = _certificate(app, name="山田 花子", org="藤沢市", course="基礎コース", points=_all_points(app))
        url = certificates.verify_url(cert.code)
        pdf = certificates.render_pdf(cert, url)
    assert url == f"{PUBLIC}/verify/{cert.code}"
    (tmp_path / "c.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "300", "-gray", "-png", "-singlefile", str(tmp_path / "c.pdf"), str(tmp_path / "c")],
                   check=True)
    image = Image.open(tmp_path / "c.png").convert("L")
    expected = certificates.qr_matrix(url)
    n = len(expected)
    module = certificates.QR_SIZE / (n + 8)
    left = certificates.PAGE_W - certificates.MARGIN - certificates.QR_SIZE
    top = certificates.PAGE_H - 40 - certificates.QR_SIZE
    read = [[image.getpixel((round((left + (c + 4.5) * module) * PT_TO_PX), round((top + (r + 4.5) * module) * PT_TO_PX))) < 128
             for c in range(n)] for r in range(n)]
    assert read == expected
    quiet = [image.getpixel((round((left + 1) * PT_TO_PX), round((top + y) * PT_TO_PX))) for y in range(2, 80, 6)]
    assert min(quiet) > 200  # a white quiet zone around the code


def test_without_a_public_url_the_request_host_is_used(app, small_content, monkeypatch):
    with app.test_request_context("/", base_url="https://trainer.example.jp"):
        monkeypatch.setitem(app.config, "PUBLIC_URL", "")
        assert certificates.verify_url("ABCD-EFGH-JKLM") == "https://trainer.example.jp/verify/ABCD-EFGH-JKLM"


def test_the_verification_page_shows_the_issue_date_and_issuer(app, small_content, monkeypatch):
    monkeypatch.setitem(app.config, "CERTIFICATE_ISSUER", "藤沢市 ひきこもり地域支援センター")
    with app.app_context():
        cert = _certificate(app, name="山田 花子", org="藤沢市", course="基礎コース", points=_all_points(app)[:2])
        from trainer.models import Role
        from trainer.services import accounts, orgs
        orgs.seed_jurisdictions()
        user = accounts.create_user(login_id="cert-holder", display_name="山田 花子", organization=orgs.by_code("140007"),
                                    password="Lantern-river-83", roles=[Role.TRAINEE])
        cert.user_id = user.id
        db.session.add(cert)
        db.session.commit()
        code, issued, completed = cert.code, cert.issued_at, cert.completed_on
    body = app.test_client().get(f"/verify/{code}").get_data(as_text=True)
    assert f"<dt>発行日</dt><dd>{certificates.japanese_date(issued)}</dd>" in body
    assert f"<dt>修了日</dt><dd>{certificates.japanese_date(completed)}</dd>" in body
    assert "<dt>発行者</dt><dd>藤沢市 ひきこもり地域支援センター</dd>" in body
