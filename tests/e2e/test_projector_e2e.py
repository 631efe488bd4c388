"""The projector is a slide (issue 17, "Live room"): at 1920x1080 and 1280x720 it fits without
scrolling and without clipping, the type is large, the answer count and the join code larger still,
after the reveal the best option is marked by a sign and a word (not colour only) inside the screen,
the bars differ by pattern, a self-rating names its points, and an ordering lists the group's order.
Screenshots of each state at both sizes go to screenshots/projector-*.png.

The participant's side at 360 px: the wall's consent is asked per post and axe finds nothing serious."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import E2E_PASSWORD, SCREENSHOTS, axe_violations
from trainer.dates import utcnow
from trainer.extensions import db
from trainer.models import LiveSession, Module, Point
from trainer.services import accounts, live, orgs, player, workshops

SIZES = [(1920, 1080), (1280, 720)]
PHONE = {"locale": "ja-JP", "timezone_id": "Asia/Tokyo", "viewport": {"width": 360, "height": 780}}
PEOPLE = 6


def _login(page, live_server, login_id):
    page.goto(f"{live_server}/auth/login")
    page.get_by_label("ログインID").fill(login_id)
    page.get_by_label("パスワード").fill(E2E_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_load_state("networkidle")


@pytest.fixture(scope="module")
def room(e2e_app):
    """A workshop with a live session of m-case-01 and PEOPLE participants who answered every
    question (different choices, opposite orders, ratings, reflections offered for the wall)."""
    with e2e_app.app_context():
        org = orgs.by_code("140007")
        logins = [f"e2e-proj-{i}" for i in range(PEOPLE)]
        for i, login in enumerate(logins):
            if not accounts.login_exists(login):
                accounts.create_user(login_id=login, display_name=f"投影 参加{i}", organization=org,
                                     password=E2E_PASSWORD, roles=["trainee"])
        fac = accounts.find_by_login("demo-facilitator")
        data = workshops.WorkshopInput(title="投影の研修会", starts_at=utcnow() - timedelta(hours=1),
                                       ends_at=utcnow() + timedelta(hours=3), venue="市役所 大会議室", online=False,
                                       module_ids=["m-case-01"], participants=" ".join(["demo-trainee", *logins]))
        ws = workshops.create(fac, data)
        session = live.start(ws, "m-case-01", fac)
        module = db.session.get(Module, "m-case-01")
        pages = player.pages(module)
        users = [accounts.find_by_login(x) for x in logins]
        found = {}
        for page in pages:
            if page.question is None:
                found.setdefault("intro", page.index)
                continue
            kind = page.question.type
            found.setdefault(kind, page.index)
            live.change(session, "goto", page.index)
            if kind == "reflection":
                live.change(session, "wall_open")
            live.change(session, "open")
            db.session.refresh(session)
            version = page.question.current_version
            presented = player.presented(version.data, session.seed, page.question.key)
            for n, user in enumerate(users):
                attempt = live.participant_attempt(session, user)
                live.submit(session, attempt, _response(kind, presented, n), f"proj-{page.index}-{n}", version.id,
                            to_wall=kind == "reflection" and n % 2 == 0)
                if kind == "reflection" and n % 2 == 0:
                    answer_id = db.session.scalar(
                        db.select(live.Answer.id).where(live.Answer.attempt_id == attempt.id,
                                                        live.Answer.question_id == page.question.id))
                    live.moderate(session, answer_id, live.WALL_SHOWN)
        live.change(session, "goto", 0)
        db.session.commit()
        return {"session": session.id, "workshop": ws.id, "pages": found, "code": ws.join_code}


def _response(kind: str, data: dict, n: int) -> dict:
    choices = data.get("choices", [])
    if kind == "single":
        return {"choice": choices[n % len(choices)]["id"]}
    if kind == "multiple":
        return {"choices": [choices[n % len(choices)]["id"]]}
    if kind == "ordering":
        order = data["order"] if n % 3 else list(reversed(data["order"]))
        return {"order": order, "ranks": {cid: str(i + 1) for i, cid in enumerate(order)}}
    if kind == "reflection":
        return {"text": f"本人のペースを尊重し、家族の疲れにも目を向けたい。参加者{n}の気づき。" * 2}
    return {"ratings": {p: str((n % 5) + 1) for p in data["points"]}}


def _fill_colours(png: bytes) -> set[tuple[int, int, int]]:
    """The colours in the filled start of a bar (inside its border), ignoring anti-aliasing."""
    from collections import Counter
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(png)).convert("RGB")
    w, h = image.size
    pixels = Counter(image.getpixel((x, y)) for x in range(4, min(16, w - 4)) for y in range(4, h - 4))
    total = sum(pixels.values())
    return {c for c, n in pixels.items() if n >= total * 0.1 and c != (242, 242, 242)}


def _state(e2e_app, sid: int, page: int, *actions: str) -> None:
    with e2e_app.app_context():
        session = db.session.get(LiveSession, sid)
        live.change(session, "goto", page)
        for action in actions:
            db.session.refresh(session)
            live.change(session, action)
        db.session.commit()


def _measure(page) -> dict:
    return page.evaluate("""() => {
        const px = el => el ? parseFloat(getComputedStyle(el).fontSize) : 0;
        const body = document.getElementById('slide-body');
        return {
            docScroll: document.documentElement.scrollHeight, inner: window.innerHeight,
            docScrollW: document.documentElement.scrollWidth, innerW: window.innerWidth,
            bodyScroll: body.scrollHeight, bodyClient: body.clientHeight,
            text: px(document.querySelector('.bars__text') || document.querySelector('.slide__prompt') || body),
            title: px(document.querySelector('.slide__title')),
            count: px(document.querySelector('.slide__count .slide__big')),
            code: px(document.querySelector('.slide__join .slide__big')),
            fit: parseFloat(document.querySelector('.slide').dataset.fit || '1'),
        };
    }""")


def _fits(page, width: int, height: int) -> dict:
    m = _measure(page)
    assert m["docScroll"] <= m["inner"] and m["docScrollW"] <= m["innerW"], m  # no scrolling
    assert m["bodyScroll"] <= m["bodyClient"] + 1, m  # and nothing cut off inside the slide
    scale = height / 1080
    assert m["text"] >= 22 * scale, m  # readable from the back: >= 22 px on 1080 lines (about 2 % of the height)
    assert m["code"] >= 48 * scale, m  # the join code is the largest thing on the bar
    return m


@pytest.mark.parametrize("width,height", SIZES)
def test_projector_is_a_slide_at_both_sizes(browser, e2e_app, live_server, room, width, height):
    SCREENSHOTS.mkdir(exist_ok=True)
    ctx = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": width, "height": height})
    page = ctx.new_page()
    _login(page, live_server, "demo-facilitator")
    url = f"{live_server}/facilitate/live/{room['session']}/projector"
    sid, pages = room["session"], room["pages"]

    def show(name: str, page_index: int, *actions: str) -> dict:
        page.goto("about:blank")  # the projector reloads itself when the state moves: no race with goto
        _state(e2e_app, sid, page_index, *actions)
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)  # the fit script and the first stats tick
        measured = _fits(page, width, height)
        page.screenshot(path=str(SCREENSHOTS / f"projector-{name}-{width}x{height}.png"))
        return measured

    # a single-choice question, open: the answer count is large and counts everyone
    m = show("single-open", pages["single"], "open")
    expect(page.locator(".slide__count [data-stat=answered]")).to_have_text(str(PEOPLE))
    assert m["count"] >= 48 * height / 1080
    bars = page.locator(".bars__row progress")
    fills = [_fill_colours(bars.nth(i).screenshot()) for i in range(bars.count())]
    assert bars.count() >= 3 and all(fills)  # every option was chosen by someone
    assert len({frozenset(f) for f in fills}) == bars.count()  # every bar looks different (pattern + colour)
    assert sum(len(f) >= 2 for f in fills) >= bars.count() - 1  # patterns: two tones, not colour alone
    assert page.locator(".mark").count() == 0  # nothing revealed yet
    # revealed: the best option is marked by a sign and a word, and it is on the screen
    show("single-revealed", pages["single"], "open", "reveal")
    best = page.locator(".bars__row--best").first
    expect(best.locator(".mark--best")).to_have_text("◎ 最適")
    box = best.bounding_box()
    assert box is not None and box["y"] + box["height"] <= height
    feedback = page.locator(".slide__best").first.bounding_box()
    assert feedback is not None and feedback["y"] + feedback["height"] <= height
    # ordering: the group's order, sorted by mean rank; the recommended order beside it after the reveal
    show("ordering-revealed", pages["ordering"], "open", "reveal")
    ranks = [float(x) for x in page.locator("[data-sort-by-rank] [data-rank]").all_inner_texts()]
    assert ranks == sorted(ranks) and len(ranks) >= 3
    expect(page.get_by_role("heading", name="◎ 推奨する順序")).to_be_visible()
    # self-rating: the points by name
    show("self-rating", pages["self_rating"], "open")
    with e2e_app.app_context():
        version = player.pages(db.session.get(Module, "m-case-01"))[pages["self_rating"]].question.current_version
        names = [db.session.get(Point, p).title for p in version.data["points"]]
    texts = page.locator(".bars--rating .bars__text").all_inner_texts()
    assert [t.split("（")[0] for t in texts] == names
    # the wall: the shown posts only (half the participants offered theirs)
    show("wall", pages["reflection"], "wall_open", "open")
    expect(page.locator("[data-wall] .wall__item")).to_have_count((PEOPLE + 1) // 2)
    # a page of scene text (if the module has one), else a question waiting to be opened
    show("scene" if "intro" in pages else "waiting", pages.get("intro", pages["multiple"]))
    assert axe_violations(page) == []
    ctx.close()


def test_participant_is_asked_for_the_wall_per_post_at_360px(browser, e2e_app, live_server, room):
    _state(e2e_app, room["session"], room["pages"]["reflection"], "wall_open", "open")
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    _login(page, live_server, "demo-trainee")
    page.goto(f"{live_server}/live/{room['session']}")
    consent = page.get_by_label("この投稿を、名前を出さずに会場のスクリーン（みんなの振り返り）に映してもよい")
    expect(consent).not_to_be_checked()
    expect(page.get_by_text("だれが見るか：")).to_be_visible()
    box = page.locator(".choice--consent").bounding_box()  # the whole row (box and label) is the target
    assert box is not None and box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 360
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling on a phone
    assert axe_violations(page) == []
    page.get_by_label("あなたの考え").fill("家族の話を最後まで聴きたい")
    page.get_by_role("button", name="回答する").click()
    expect(page.get_by_text("この投稿は、会場のスクリーンには映りません")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "live-participant-wall-consent-360.png"), full_page=True)
    with e2e_app.app_context():
        user = accounts.find_by_login("demo-trainee")
        states = db.session.scalars(db.select(live.Answer.wall).join(live.Attempt, live.Attempt.id == live.Answer.attempt_id)
                                    .where(live.Answer.user_id == user.id,
                                           live.Attempt.live_session_id == room["session"])).all()
    assert states == ["none"]  # not ticked: it stays off the wall
    ctx.close()


def test_moderating_the_wall_returns_to_the_wall_not_to_the_top(browser, e2e_app, live_server, room):
    _state(e2e_app, room["session"], room["pages"]["reflection"], "wall_open", "open")
    ctx = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    _login(page, live_server, "demo-facilitator")
    page.goto(f"{live_server}/facilitate/live/{room['session']}")
    expect(page.get_by_text("掲載に同意していない投稿：")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name="映すのをやめる").first.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("#wall")
    assert page.evaluate("window.scrollY") > 0  # the moderation list stays in view
    expect(page.get_by_role("button", name="映す", exact=True)).to_have_count(1)
    page.get_by_role("button", name="映す", exact=True).click()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("button", name="映す", exact=True)).to_have_count(0)
    page.get_by_role("button", name="次へ →").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("#controls")
    page.screenshot(path=str(SCREENSHOTS / "live-control-after-next-1280x720.png"))
    ctx.close()


def test_debrief_reads_well_and_passes_axe(browser, live_server, room):
    ctx = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    _login(page, live_server, "demo-facilitator")
    page.goto(f"{live_server}/facilitate/live/{room['session']}/debrief")
    expect(page.get_by_role("heading", name="自己評価：研修の前と後（平均、1〜5）")).to_be_visible()
    expect(page.get_by_role("heading", name="グループの順序（平均の順位）")).to_be_visible()
    expect(page.locator(".debrief-item .wall__item")).to_have_count((PEOPLE + 1) // 2)
    assert "case-01-q" not in page.content()
    assert axe_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / "live-debrief-1280.png"), full_page=True)
    ctx.close()
