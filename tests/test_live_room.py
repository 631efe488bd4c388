"""The live room as participants and facilitators meet it (issue 17, "Live room"): the reflection
wall is opt-in (the facilitator opens it per question, the author consents per post, a moderation
queue holds every post until a facilitator shows it), the late-join message on a closed question,
join codes typed in full width or with hyphens, the join entry on the top and login pages, controls
that return to the controls, scene titles instead of internal IDs, the debrief, and workshop dates."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from tests.test_workshops import _act, _client, _create, _live, _pages, _today, people  # noqa: F401 (fixture)
from trainer.dates import now_jst, today_jst
from trainer.extensions import db
from trainer.models import Answer, Workshop
from trainer.services.wareki import to_wareki

FULL_WIDTH = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ０１２３４５６７８９－")


def _page_of(app, qtype: str) -> int:
    return next(i for i, t, _ in _pages(app) if t == qtype)


def _wall_states(app) -> dict[str, str]:
    with app.app_context():
        return dict(db.session.execute(select(Answer.token, Answer.wall)).all())


def _answer_id(app, token: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Answer.id).where(Answer.token == token))


def _on_wall(facilitator, sid) -> list[str]:
    return facilitator.get(f"/facilitate/live/{sid}/stats.json").get_json()["wall"]


# --- the wall: nothing reaches it unasked --------------------------------------------------------

def test_without_the_wall_opened_a_post_stays_private_even_if_consent_is_forged(app, people):
    facilitator, participants, _, sid = _live(app, people)
    _act(facilitator, sid, "goto", page=_page_of(app, "reflection"))
    _act(facilitator, sid, "open")
    panel = participants[0].get(f"/live/{sid}/panel").get_data(as_text=True)
    assert "会場のスクリーンへの掲載はありません" in panel and 'name="to_wall"' not in panel
    assert "都道府県の担当者には表示されません" in panel and "ファシリテーターが見る研修の記録" in panel
    participants[0].post(f"/live/{sid}/answer", data={"token": "p0", "text": "本人のペースを大切にしたい", "to_wall": "1"})
    assert _wall_states(app) == {"p0": "none"}
    # a facilitator cannot show a post its author never offered
    assert facilitator.post(f"/facilitate/live/{sid}/wall/{_answer_id(app, 'p0')}", data={"state": "shown"}).status_code == 302
    assert _wall_states(app) == {"p0": "none"} and _on_wall(facilitator, sid) == []
    control = facilitator.get(f"/facilitate/live/{sid}").get_data(as_text=True)
    assert "本人のペースを大切にしたい" not in control and "掲載に同意していない投稿：1件" in control
    projector = facilitator.get(f"/facilitate/live/{sid}/projector").get_data(as_text=True)
    assert "本人のペースを大切にしたい" not in projector


def test_consent_is_asked_per_post_and_posts_wait_in_the_queue_until_shown(app, people):
    facilitator, participants, _, sid = _live(app, people)
    _act(facilitator, sid, "goto", page=_page_of(app, "reflection"))
    _act(facilitator, sid, "wall_open")
    _act(facilitator, sid, "open")
    panel = participants[0].get(f"/live/{sid}/panel").get_data(as_text=True)
    assert 'name="to_wall"' in panel and "checked" not in panel.split('name="to_wall"')[1].split(">")[0]
    assert "名前を出さずに会場のスクリーン" in panel and "チェックしなければ、スクリーンには映りません" in panel
    participants[0].post(f"/live/{sid}/answer", data={"token": "yes", "text": "家族の声を聴き続けたい", "to_wall": "1"})
    participants[1].post(f"/live/{sid}/answer", data={"token": "no", "text": "自分の記録にだけ残したい考え"})
    assert _wall_states(app) == {"yes": "queued", "no": "none"}
    assert "ファシリテーターの確認を待っています" in participants[0].get(f"/live/{sid}/panel").get_data(as_text=True)
    assert "スクリーンには映りません" in participants[1].get(f"/live/{sid}/panel").get_data(as_text=True)
    # queued: visible to the facilitator for moderation, nowhere else
    assert _on_wall(facilitator, sid) == []
    control = facilitator.get(f"/facilitate/live/{sid}").get_data(as_text=True)
    assert "家族の声を聴き続けたい" in control and "確認待ち" in control and "自分の記録にだけ残したい考え" not in control
    for page in (facilitator.get(f"/facilitate/live/{sid}/projector"), participants[2].get(f"/live/{sid}/panel")):
        assert "家族の声を聴き続けたい" not in page.get_data(as_text=True)
    # shown: on the projector and the participants' wall, anonymous
    assert facilitator.post(f"/facilitate/live/{sid}/wall/{_answer_id(app, 'yes')}", data={"state": "shown"}).status_code == 302
    assert _on_wall(facilitator, sid) == ["家族の声を聴き続けたい"]
    projector = facilitator.get(f"/facilitate/live/{sid}/projector").get_data(as_text=True)
    assert "家族の声を聴き続けたい" in projector and "受講者0" not in projector
    assert "家族の声を聴き続けたい" in participants[2].get(f"/live/{sid}/panel").get_data(as_text=True)
    # taken off again
    facilitator.post(f"/facilitate/live/{sid}/wall/{_answer_id(app, 'yes')}", data={"state": "hidden"})
    assert _on_wall(facilitator, sid) == [] and _wall_states(app)["yes"] == "hidden"
    # the wall is opened per question: the next page starts closed
    _act(facilitator, sid, "next")
    _act(facilitator, sid, "prev")
    assert 'name="to_wall"' not in participants[2].get(f"/live/{sid}/panel").get_data(as_text=True)


def test_the_wall_can_only_be_opened_on_a_reflection_and_bad_moderation_changes_nothing(app, people):
    facilitator, participants, _, sid = _live(app, people)
    _act(facilitator, sid, "goto", page=_page_of(app, "single"))
    body = facilitator.post(f"/facilitate/live/{sid}/action", data={"action": "wall_open"},
                            follow_redirects=True).get_data(as_text=True)
    assert "振り返り（記述）の問いでだけ使えます" in body
    _act(facilitator, sid, "goto", page=_page_of(app, "reflection"))
    _act(facilitator, sid, "wall_open")
    _act(facilitator, sid, "open")
    participants[0].post(f"/live/{sid}/answer", data={"token": "q", "text": "待つことも支援", "to_wall": "1"})
    answer_id = _answer_id(app, "q")
    body = facilitator.post(f"/facilitate/live/{sid}/wall/{answer_id}", data={"state": "deleted"},
                            follow_redirects=True).get_data(as_text=True)
    assert "その操作はできません" in body and _wall_states(app) == {"q": "queued"}


# --- participants: late join, codes, entry points ---------------------------------------------

def test_a_latecomer_to_a_closed_question_is_told_it_is_closed(app, people):
    facilitator, participants, _, sid = _live(app, people)
    _act(facilitator, sid, "goto", page=_page_of(app, "single"))
    waiting = participants[2].get(f"/live/{sid}/panel").get_data(as_text=True)
    assert "受付を始めるまでお待ちください" in waiting and "締め切られました" not in waiting
    _act(facilitator, sid, "open")
    _act(facilitator, sid, "close")
    late = participants[2].get(f"/live/{sid}").get_data(as_text=True)
    assert "この問いの回答は締め切られました" in late and "受付を始めるまでお待ちください" not in late
    _act(facilitator, sid, "reveal")
    revealed = participants[2].get(f"/live/{sid}/panel").get_data(as_text=True)
    assert "解説" in revealed and "回答は締め切られています" in revealed
    _act(facilitator, sid, "open")  # opened again: answerable, no closed message
    reopened = participants[2].get(f"/live/{sid}/panel").get_data(as_text=True)
    assert "回答する" in reopened and "締め切られ" not in reopened


def test_full_width_and_hyphenated_codes_are_accepted(app, people):
    fac, _ = people
    wid = _create(_client(app, fac.login_id))
    with app.app_context():
        code = db.session.get(Workshop, wid).join_code
    typed = f"　{code[:4]}-{code[4:]} ".translate(FULL_WIDTH)  # ＡＢＣＤ－ＥＦＧＨ with full-width spaces
    assert typed != code and code not in typed
    anonymous = app.test_client()
    response = anonymous.post("/join", data={"code": typed})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/join/{code}")
    assert "ひきこもり支援研修会" in anonymous.get(f"/join/{code}").get_data(as_text=True)
    hyphenated = anonymous.get(f"/join/{code[:4]}-{code[4:]}".lower())
    assert hyphenated.status_code == 302 and hyphenated.headers["Location"].endswith(f"/join/{code}")


def test_top_and_login_pages_offer_the_join_code_entry(app, people):
    for path in ("/", "/auth/login"):
        body = app.test_client().get(path).get_data(as_text=True)
        entry = re.search(r'<a [^>]*href="/join"[^>]*>([^<]*)</a>', body)
        assert entry is not None and entry.group(1) == "参加コードを入力", path


# --- facilitator: controls, titles, debrief, dates ---------------------------------------------

def test_control_buttons_return_to_the_controls_and_the_selector_names_scenes(app, people):
    facilitator, _, _, sid = _live(app, people)
    response = facilitator.post(f"/facilitate/live/{sid}/action", data={"action": "next"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/facilitate/live/{sid}#controls")
    control = facilitator.get(f"/facilitate/live/{sid}").get_data(as_text=True)
    assert 'id="controls"' in control
    selector = control.split('<select id="page"')[1].split("</select>")[0]
    assert "場面1「初回相談」・問い2 単一選択" in selector and "場面3「本人との出会い」" in selector
    assert "case-01-q" not in selector


def _run_every_question(app, facilitator, participants, sid) -> list:
    """Every question opened, answered by every participant (before 2/1, after 4/5 alternately;
    even participants rank in the recommended order, odd ones in reverse), the first reflection
    shown on the wall, revealed; then the session ends."""
    pages = _pages(app)
    for index, qtype, data in pages:
        _act(facilitator, sid, "goto", page=index)
        if qtype is None:
            continue
        if qtype == "reflection":
            _act(facilitator, sid, "wall_open")
        _act(facilitator, sid, "open")
        for n, client in enumerate(participants):
            if qtype == "self_rating":
                value = {"before": ("2", "1"), "after": ("4", "5")}[data["phase"]][n % 2]
                form = {f"rating-{p}": value for p in data["points"]}
            elif qtype == "ordering":
                order = data["order"] if n % 2 == 0 else list(reversed(data["order"]))
                form = {f"rank-{cid}": str(i + 1) for i, cid in enumerate(order)}
            elif qtype == "reflection":
                form = {"text": "壁に映した言葉" if n == 0 else f"映さなかった言葉{n}", "to_wall": "1"}
            elif qtype == "single":
                form = {"choice": data["choices"][0]["id"]}
            else:
                form = {"choices": [data["choices"][0]["id"]]}
            assert client.post(f"/live/{sid}/answer", data={"token": f"d{index}-{n}", **form}).status_code == 200
        if qtype == "reflection":
            facilitator.post(f"/facilitate/live/{sid}/wall/{_answer_id(app, f'd{index}-0')}", data={"state": "shown"})
        _act(facilitator, sid, "reveal")
    _act(facilitator, sid, "end")
    return pages


def test_debrief_has_scene_titles_wall_texts_group_order_self_ratings_and_wareki(app, people, make_user):
    extra = [make_user(login_id=f"tr-x{i}", name=f"追加{i}") for i in range(2)]  # 5 people: figures may be shown
    facilitator, participants, _, sid = _live(app, people, extra=extra)
    pages = _run_every_question(app, facilitator, participants, sid)
    debrief = facilitator.get(f"/facilitate/live/{sid}/debrief").get_data(as_text=True)
    assert "case-01-q" not in debrief and "場面3「本人との出会い」・問い" in debrief
    assert "壁に映した言葉" in debrief and "映さなかった言葉" not in debrief
    # the group's order: 3 people ranked in the recommended order, 2 in reverse
    order = next(d for _, t, d in pages if t == "ordering")["order"]
    size = len(order)
    means = [round((3 * (i + 1) + 2 * (size - i)) / 5, 2) for i in range(size)]
    group = debrief.split("グループの順序")[1].split("</ol>")[0]
    assert [float(x) for x in re.findall(r"（平均 ([\d.]+) 位）", group)] == sorted(means)
    # self-rating before (2,1,2,1,2 -> 1.6) and after (4,5,4,5,4 -> 4.4), per point, with the difference
    table = debrief.split("研修の前と後")[1].split("</table>")[0]
    assert table.count("<td class=\"num\">1.6</td><td class=\"num\">4.4</td>") == 2 and "+2.80" in table
    started = now_jst()
    assert to_wareki(started.date()) in debrief and f"（{started.year}年{started.month}月{started.day}日）" in debrief


def test_self_rating_means_of_fewer_than_five_people_are_withheld(app, people):
    facilitator, participants, _, sid = _live(app, people)  # 3 people
    _run_every_question(app, facilitator, participants, sid)
    debrief = facilitator.get(f"/facilitate/live/{sid}/debrief").get_data(as_text=True)
    assert "5人未満のため、ポイントごとの平均は表示しません" in debrief and "1.5</td>" not in debrief
    assert "回答が5人未満のため、平均は表示しません" in debrief
    facilitator.post(f"/facilitate/live/{sid}/resume")  # back to a self-rating answered by 3: live figures too
    _act(facilitator, sid, "goto", page=_page_of(app, "self_rating"))
    stats = facilitator.get(f"/facilitate/live/{sid}/stats.json").get_json()
    assert stats["answered"] == 3 and stats["ratings"] == {}
    assert "5人以上が答えると表示します" in facilitator.get(f"/facilitate/live/{sid}/projector").get_data(as_text=True)


def test_a_workshop_cannot_be_created_already_ended(app, people):
    fac, _ = people
    client = _client(app, fac.login_id)
    yesterday = (today_jst() - timedelta(days=1)).isoformat()
    body = client.post("/facilitate/workshops/new", data={"title": "終わった研修会", "day": yesterday, "start": "10:00",
                                                          "end": "12:00", "modules": ["m-values"]}).get_data(as_text=True)
    assert "終了日時がすでに過ぎています" in body
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Workshop)) == 0
    assert _create(client, day=_today(), start="00:00", end="23:59") > 0  # today, still under way: fine


def test_an_empty_post_keeps_the_consent_as_given_and_stores_nothing(app, people):
    facilitator, participants, _, sid = _live(app, people)
    _act(facilitator, sid, "goto", page=_page_of(app, "reflection"))
    _act(facilitator, sid, "wall_open")
    _act(facilitator, sid, "open")
    ticked = participants[0].post(f"/live/{sid}/answer", data={"token": "e", "text": "  ", "to_wall": "1"})
    assert ticked.status_code == 422 and "書いてください" in ticked.get_data(as_text=True)
    assert 'value="1" aria-describedby="to-wall-hint" checked' in ticked.get_data(as_text=True)
    unticked = participants[0].post(f"/live/{sid}/answer", data={"token": "e", "text": "  "})
    assert 'aria-describedby="to-wall-hint" checked' not in unticked.get_data(as_text=True)
    assert _wall_states(app) == {}


def test_self_ratings_are_shown_by_point_name_on_the_control_view_and_the_projector(app, people):
    facilitator, participants, _, sid = _live(app, people)
    page = _page_of(app, "self_rating")
    _act(facilitator, sid, "goto", page=page)
    _act(facilitator, sid, "open")
    data = next(d for i, _, d in _pages(app) if i == page)
    participants[0].post(f"/live/{sid}/answer", data={"token": "s", **{f"rating-{p}": "4" for p in data["points"]}})
    with app.app_context():
        from trainer.models import Point
        titles = [db.session.get(Point, p).title for p in data["points"]]
    for path in (f"/facilitate/live/{sid}", f"/facilitate/live/{sid}/projector"):
        body = facilitator.get(path).get_data(as_text=True)
        for point_id, title in zip(data["points"], titles):
            assert f"{title}<span class=\"slide__pid\">（{point_id}）" in body or f"{title}（{point_id}）" in body, path
