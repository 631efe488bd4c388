"""Editorial rules (trainer.content.rules): each with a failing and a passing variant, exact ``file:line: message``.

The base is the generated tree (tests.content.gentree), which meets every rule; each test edits
one file and compares the whole problem list, so a rule that fires too often fails as well.
"""

from __future__ import annotations

from pathlib import Path

from trainer.content.rules import cited_points, editorial_problems, first_tag_counts, name_ages

MC1, MC2, MG1 = "quizzes/m-case-01.yaml", "quizzes/m-case-02.yaml", "quizzes/m-gen-1.yaml"
C1, C2 = "cases/case-01.md", "cases/case-02.md"
FW = "framework.yaml"


def _problems(tree) -> list[str]:
    """Load (must be valid) and return the editorial problems as strings."""
    return [str(p) for p in editorial_problems(tree.content(), tree.root)]


def _edit_first(tree, rel: str, old: str, new: str) -> None:
    """Replace the first occurrence of ``old`` in content/<rel>."""
    text = tree.read(rel)
    assert old in text
    tree.write(rel, text.replace(old, new, 1))


def test_generated_tree_meets_every_rule(gen):
    assert _problems(gen()) == []


def test_editorial_problems_go_through_content_check(gen, cli):
    tree = gen()
    tree.replace(MC2, "        phase: after\n", "")
    result = cli.invoke(args=["content", "check", "content"])
    assert result.exit_code == 1
    assert tree.at(MC2, "case: case-02", "モジュール m-case-02 に phase: after の自己評価（self_rating）の問題が"
                   "ありません（事例モジュールには phase: before と phase: after の自己評価が両方必要です）") in result.output
    assert "1 件の問題があります。" in result.output


# --- feedback and guidance cite only tagged points ---------------------------------------------


def test_feedback_citing_an_untagged_point(gen):
    tree = gen()
    _edit_first(tree, MG1, "feedback: 理由を説明します（P15）。", "feedback: 理由を説明します（P15、Ｐ０７）。")
    assert _problems(tree) == [tree.at(
        MG1, "（P15、Ｐ０７）", "問題 gen-q64 の選択肢 a のフィードバックが論点 P07 に触れていますが、この問題の "
        "points（P15）にありません（points に加えるか、本文の論点を直してください）")]


def test_feedback_citing_tagged_points_passes(gen):
    tree = gen()
    tree.replace(MG1, "points: [P15]", "points: [P15, P07]")
    _edit_first(tree, MG1, "feedback: 理由を説明します（P15）。", "feedback: 理由を説明します（P15、P07）。")
    assert _problems(tree) == []


def test_guidance_citing_an_untagged_point(gen):
    tree = gen()
    reflection = ("      - id: gen-r1\n        type: reflection\n        points: [P02]\n        prompt: 振り返ってください。\n"
                  "        guidance: |\n          家族の負担（P02）と、支援者の連携（P45）を考えます。\n")
    _edit_first(tree, MC1, "      - id: gen-q0\n", reflection + "      - id: gen-q0\n")
    assert _problems(tree) == [tree.at(
        MC1, "guidance: |", "問題 gen-r1 のguidanceが論点 P45 に触れていますが、この問題の points（P02）にありません"
        "（points に加えるか、本文の論点を直してください）")]
    tree.replace(MC1, "points: [P02]\n        prompt: 振り返って", "points: [P02, P45]\n        prompt: 振り返って")
    assert _problems(tree) == []


def test_cited_points():
    assert cited_points("（P01、P25）と P01、Ｐ３３。P100 や XP12 は論点ではない") == ["P01", "P25", "P33"]
    assert cited_points(None) == []


# --- personas are distinct --------------------------------------------------------------------


def test_two_cases_with_the_same_persona(gen):
    """Remarks in brackets do not make a household different."""
    tree = gen()
    tree.replace(C2, "age_band: 40代", "age_band: 20代")
    tree.replace(C2, "sex: 女性", "sex: 男性")
    tree.replace(C2, "household: 一人暮らし", "household: 両親と同居（姉は県外で就職）")
    tree.replace(C2, "first_contact: 本人", "first_contact: 母親")
    assert _problems(tree) == [tree.at(
        C2, "persona:", "事例 case-02 の persona（20代・男性・両親と同居・母親）が事例 case-01"
        "（content/cases/case-01.md:5）と同じです（年代・性別・世帯・最初の相談者のどれかを変えて、事例ごとに別の人物にしてください）")]
    tree.replace(C2, "first_contact: 母親", "first_contact: 父親")
    assert _problems(tree) == []


def test_two_cases_introducing_the_same_name_and_age(gen):
    tree = gen()
    tree.replace(C2, "本人（Bさん、43歳）", "本人（Ａさん（24歳））")
    assert _problems(tree) == [tree.at(
        C2, "Ａさん（24歳）", "事例 case-02 の「Aさん(24歳」は事例 case-01（content/cases/case-01.md:19）と"
        "同じ名前と年齢です（別の人物だとわかるよう、名前か年齢を変えてください）")]
    tree.replace(C2, "本人（Ａさん（24歳））", "本人（Aさん、25歳）。お母さん（24歳）")
    assert _problems(tree) == []


def test_name_ages_are_read_from_every_stage(gen):
    content = gen().content()
    assert name_ages(content.case("case-01")) == [("Aさん、24歳", 19, "A/24")]


# --- case modules ask for self-rating before and after -----------------------------------------


def test_case_module_without_before_self_rating(gen):
    tree = gen()
    tree.replace(MC1, "        phase: before\n", "")
    assert _problems(tree) == [tree.at(
        MC1, "case: case-01", "モジュール m-case-01 に phase: before の自己評価（self_rating）の問題がありません"
        "（事例モジュールには phase: before と phase: after の自己評価が両方必要です）")]


def test_modules_without_a_case_need_no_self_rating(gen):
    tree = gen()
    assert "self_rating" not in tree.read(MG1)
    assert _problems(tree) == []


# --- every point is the first tag of 3 scored questions in 2 modules ------------------------------


def test_point_first_in_too_few_questions(gen):
    """P17 is first in gen-q16 (m-case-01), gen-q66 (m-gen-1), gen-q116 (m-gen-2); make it second in one."""
    tree = gen()
    assert first_tag_counts(tree.content())["P17"] == (3, {"m-case-01", "m-gen-1", "m-gen-2"})
    tree.replace(MG1, "points: [P17]", "points: [P18, P17]")
    assert _problems(tree) == [tree.at(
        FW, "- id: P17", "論点 P17 を最初の論点（points の先頭）にした採点問題が 2 問・2 モジュールしかありません"
        "（3 問以上、2 つ以上のモジュールに必要です）")]


def test_point_first_in_one_module_only(gen):
    """Three questions are enough only when they are spread over two modules."""
    tree = gen()
    tree.replace(MC1, "points: [P02]", "points: [P17, P02]")  # P02 and P03 stay first in 3 questions
    tree.replace(MC1, "points: [P03]", "points: [P17, P03]")
    tree.replace(MG1, "points: [P17]", "points: [P18, P17]")
    tree.replace("quizzes/m-gen-2.yaml", "points: [P17]", "points: [P18, P17]")
    assert first_tag_counts(tree.content())["P17"] == (3, {"m-case-01"})
    assert _problems(tree) == [tree.at(
        FW, "- id: P17", "論点 P17 を最初の論点（points の先頭）にした採点問題が 3 問・1 モジュールしかありません"
        "（3 問以上、2 つ以上のモジュールに必要です）")]


def test_unscored_questions_do_not_count(tree):
    """In the small fixture tree only reflection questions tag P32 first; self-rating ones tag P01 first."""
    counts = first_tag_counts(tree.content())
    assert counts["P32"] == (0, set()) and counts["P10"] == (1, {"m-case-01"})
    assert counts["P01"] == (3, {"m-case-01", "m-case-02", "m-values"})
    problems = [p for p in editorial_problems(tree.content(), Path("content")) if p.path == "content/framework.yaml"]
    reported = [p.message.split()[1] for p in problems]
    assert reported == [f"P{n:02d}" for n in range(2, 51)]  # every point but P01
