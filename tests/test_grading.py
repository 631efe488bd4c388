"""Grading of every question type, the mastery rule and 和暦 dates (pure functions)."""
from __future__ import annotations

from datetime import date

import pytest

from trainer.services import grading
from trainer.services.mastery import classify
from trainer.services.wareki import to_wareki

SINGLE = {"choices": [{"id": "a", "rating": "best"}, {"id": "b", "rating": "acceptable"},
                      {"id": "c", "rating": "caution"}], "points": ["P01"]}
MULTIPLE = {"choices": [{"id": "a", "rating": "best"}, {"id": "b", "rating": "best"},
                        {"id": "c", "rating": "acceptable"}, {"id": "d", "rating": "caution"}], "points": ["P02"]}
ORDERING = {"choices": [{"id": x, "rating": None} for x in "abcd"], "order": ["b", "a", "d", "c"], "points": ["P03"]}


@pytest.mark.parametrize("choice,score,rating", [("a", 1.0, "best"), ("b", 0.5, "acceptable"), ("c", 0.0, "caution")])
def test_single(choice, score, rating):
    response = grading.validate("single", SINGLE, {"choice": choice})
    assert grading.grade("single", SINGLE, response) == grading.Grade(score, rating)


@pytest.mark.parametrize("chosen,score,rating", [
    (["a", "b"], 1.0, "best"),
    (["a", "b", "c"], 1.0, "best"),
    (["a"], 0.5, "acceptable"),
    (["a", "c"], 0.5, "acceptable"),
    (["a", "b", "d"], 0.5, "caution"),
    (["a", "d"], 0.0, "caution"),
    (["d"], 0.0, "caution"),
    (["c"], 0.0, "acceptable"),
])
def test_multiple(chosen, score, rating):
    response = grading.validate("multiple", MULTIPLE, {"choices": chosen})
    assert grading.grade("multiple", MULTIPLE, response) == grading.Grade(score, rating)


@pytest.mark.parametrize("order,score,rating", [
    (["b", "a", "d", "c"], 1.0, "best"),
    (["a", "b", "d", "c"], round(5 / 6, 4), "acceptable"),
    (["c", "d", "a", "b"], 0.0, "caution"),
    (["b", "d", "a", "c"], round(5 / 6, 4), "acceptable"),
    (["c", "a", "b", "d"], round(2 / 6, 4), "caution"),
])
def test_ordering(order, score, rating):
    response = grading.validate("ordering", ORDERING, {"order": order})
    assert grading.grade("ordering", ORDERING, response) == grading.Grade(score, rating)


@pytest.mark.parametrize("qtype,data,raw,phrase", [
    ("single", SINGLE, {"choice": None}, "1つ選んで"),
    ("single", SINGLE, {"choice": "z"}, "1つ選んで"),
    ("multiple", MULTIPLE, {"choices": []}, "1つ以上"),
    ("multiple", MULTIPLE, {"choices": ["zz"]}, "1つ以上"),
    ("ordering", ORDERING, {"order": ["a", "b", "c"]}, "重ならないように"),
    ("ordering", ORDERING, {"order": ["a", "a", "b", "c"]}, "重ならないように"),
    ("reflection", {"choices": [], "points": ["P01"]}, {"text": "   "}, "書いてください"),
    ("reflection", {"choices": [], "points": ["P01"]}, {"text": "あ" * 2001}, "2000文字以内"),
    ("self_rating", {"choices": [], "points": ["P01", "P02"]}, {"ratings": {"P01": "3"}}, "すべてのポイント"),
    ("self_rating", {"choices": [], "points": ["P01"]}, {"ratings": {"P01": "9"}}, "1〜5"),
])
def test_invalid_responses_get_japanese_messages(qtype, data, raw, phrase):
    with pytest.raises(grading.ResponseError, match=phrase):
        grading.validate(qtype, data, raw)


def test_unscored_types():
    data = {"choices": [], "points": ["P01", "P02"]}
    assert grading.grade("reflection", data, grading.validate("reflection", data, {"text": " 考え "})) == grading.Grade(None, None)
    response = grading.validate("self_rating", data, {"ratings": {"P01": "2", "P02": "5"}})
    assert response == {"ratings": {"P01": 2, "P02": 5}}
    assert grading.grade("self_rating", data, response) == grading.Grade(None, None)


@pytest.mark.parametrize("answered,mean,state", [
    (0, None, "none"), (1, 1.0, "learning"), (2, 0.8, "secure"), (2, 0.75, "learning"), (5, 0.95, "secure"),
])
def test_mastery_rule(answered, mean, state):
    assert classify(answered, mean) == state


@pytest.mark.parametrize("day,expected", [
    (date(2025, 2, 1), "令和7年2月1日"),
    (date(2019, 4, 30), "平成31年4月30日"),
    (date(2019, 5, 1), "令和元年5月1日"),
    (date(1989, 1, 7), "昭和64年1月7日"),
    (date(1989, 1, 8), "平成元年1月8日"),
    (date(2020, 1, 1), "令和2年1月1日"),
])
def test_wareki(day, expected):
    assert to_wareki(day) == expected
