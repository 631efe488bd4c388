"""A generated content tree big enough for the cue audit, valid under every editorial rule.

``write_tree(root, plant=None)`` writes framework.yaml (from ``framework_yaml()``), two cases with
distinct personas and five modules (two case modules with before/after self-rating, three without
a case) holding ``SINGLES`` single questions and ``MULTIPLES`` multiple questions. Question j is
tagged with the one point P((j % 50) + 1), so every point is the first tag of 3 scored questions
in 3 modules, and each feedback cites only that point.

Options are built so that nothing on their surface tells the best one: in a question every
option has the same shape (「{w1}と{w2}について{w3}の面から確かめる。」 with three different words of
equal length), so length, sentences and motive tie; the words and the position of the best
option are drawn from a seeded ``random.Random``, so no word goes with the best. ``plant`` puts
one cue in every best option:

- ``"longest"``: the best option gets 「丁寧に」 in front (longer, same shape otherwise);
- ``"no_motive"``: every option gets a prefix of the same length, 「ゆっくりと、」 on the best and
  「安心のため、」 (a motive clause) on the others;
- ``"word"``: 「寄り添い」 in the best option, 「念入りに」 (same length) in the others;
- ``"suffix"``: 「確かめておく」 in the best option, 「確かめてみる」 in the others: okurigana, which
  no token covers, so only the classifier's character n-grams can see it.
"""

from __future__ import annotations

import random
from pathlib import Path

from tests.content.conftest import framework_yaml

SINGLES = 150
MULTIPLES = 10
MODULES = ("m-case-01", "m-case-02", "m-gen-1", "m-gen-2", "m-gen-3")
WORDS = ("家族", "本人", "生活", "地域", "機関", "制度", "窓口", "体調", "意向", "予定", "記録", "費用")
PLANTS = ("longest", "no_motive", "word", "suffix")

_CASE = """---
id: {id}
pattern: PT0{n}
title: 事例{n}
persona:
  age_band: {age}
  sex: {sex}
  household: {household}
  duration: 約3年
  first_contact: {contact}
  first_place: 市の福祉相談窓口
  setting: 地方
summary: 生成した事例{n}です。
points: [P01]
---

## 初回相談 {{#s1}}

本人（{name}）について{contact}から相談があった。

## 関係づくり {{#s2}}

面談を続けた。

## 本人との出会い {{#s3}}

本人と会えた。

## 出口とその後 {{#s4}}

支援を振り返った。
"""
_PERSONAS = (("20代", "男性", "両親と同居", "母親", "Aさん、24歳"),
             ("40代", "女性", "一人暮らし", "本人", "Bさん、43歳"))


def option_text(rng: random.Random, words: list[str], best: bool, plant: str | None) -> str:
    """One option: three different words in a fixed frame, with the planted cue if any."""
    w1, w2, w3 = rng.sample(words, 3)
    text = f"{w1}と{w2}について{w3}の面から確かめる。"
    if plant == "longest" and best:
        text = "丁寧に" + text
    elif plant == "no_motive":
        text = ("ゆっくりと、" if best else "安心のため、") + text
    elif plant == "word":
        text = f"{w1}と{w2}について{w3}の面から{'寄り添い' if best else '念入りに'}確かめる。"
    elif plant == "suffix":
        text = f"{w1}と{w2}について{w3}の面から確かめて{'おく' if best else 'みる'}。"
    return text


def _question_lines(rng: random.Random, number: int, kind: str, plant: str | None) -> list[str]:
    """YAML lines of one single (4 options, 1 best) or multiple (5 options, 2 best) question."""
    point = f"P{number % 50 + 1:02d}"
    ratings = ["best", "acceptable", "caution", "caution"] if kind == "single" else \
        ["best", "best", "acceptable", "caution", "caution"]
    rng.shuffle(ratings)
    lines = [f"      - id: gen-q{number}", f"        type: {kind}", f"        points: [{point}]",
             f"        prompt: 問{number}。どうしますか。", "        choices:"]
    for letter, rating in zip("abcde", ratings, strict=False):
        text = option_text(rng, list(WORDS), rating == "best", plant)
        lines += [f"          - id: {letter}", f"            text: {text}",
                  f"            rating: {rating}", f"            feedback: 理由を説明します（{point}）。"]
    return lines


def _self_rating(module: str, phase: str) -> list[str]:
    """A self_rating question with ``phase``."""
    return [f"      - id: {module}-{phase}", "        type: self_rating", "        points: [P01]",
            "        prompt: いまの自信を 1〜5 で答えてください。", f"        phase: {phase}"]


def _module_text(module: str, numbers: list[tuple[int, str]], rng: random.Random, plant: str | None) -> str:
    """One module file: a case module spreads its questions over the 4 stages."""
    case = module.removeprefix("m-") if module.startswith("m-case") else None
    lines = [f"id: {module}", *([f"case: {case}"] if case else []), f"title: {module}", "summary: 生成したモジュール。",
             "minutes: 30", "steps:"]
    chunks = [numbers[i::4] for i in range(4)] if case else [numbers]
    for n, chunk in enumerate(chunks, 1):
        lines += [f"  - stage: s{n}" if case else "  - intro: 生成した問題です。", "    questions:"]
        if case and n == 1:
            lines += _self_rating(module, "before")
        for number, kind in chunk:
            lines += _question_lines(rng, number, kind, plant)
        if case and n == len(chunks):
            lines += _self_rating(module, "after")
    return "\n".join(lines) + "\n"


def write_tree(root: Path, plant: str | None = None, seed: int = 13) -> Path:
    """Write the generated tree at ``root`` (see the module docstring) and return ``root``."""
    assert plant in (None, *PLANTS)
    rng = random.Random(seed)
    (root / "cases").mkdir(parents=True, exist_ok=True)
    (root / "quizzes").mkdir(exist_ok=True)
    (root / "framework.yaml").write_text(framework_yaml(), encoding="utf-8")
    for n, (age, sex, household, contact, name) in enumerate(_PERSONAS, 1):
        text = _CASE.format(id=f"case-0{n}", n=n, age=age, sex=sex, household=household, contact=contact, name=name)
        (root / "cases" / f"case-0{n}.md").write_text(text, encoding="utf-8")
    questions = [(j, "single") for j in range(SINGLES)] + [(SINGLES + j, "multiple") for j in range(MULTIPLES)]
    per_module = len(questions) // len(MODULES)
    for index, module in enumerate(MODULES):
        numbers = questions[index * per_module:(index + 1) * per_module]
        (root / "quizzes" / f"{module}.yaml").write_text(_module_text(module, numbers, rng, plant), encoding="utf-8")
    return root
