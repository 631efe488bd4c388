"""Grading: pure functions from a question version's data and a response to (score, rating).

single   best 1, acceptable 0.5, caution 0
multiple (best chosen - caution chosen) / number of best choices, floored at 0;
         rating best when every best choice and no caution choice is chosen, caution when any
         caution choice is chosen, acceptable otherwise
ordering share of item pairs in the recommended relative order; best at 1.0, acceptable >= 0.6
reflection and self_rating are not scored
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

RATING_SCORE = {"best": 1.0, "acceptable": 0.5, "caution": 0.0}
ORDERING_ACCEPTABLE = 0.6
MAX_REFLECTION_CHARS = 2000


class ResponseError(ValueError):
    """The response does not fit the question; the message is shown to the trainee. ``field`` names
    the form field to go to (an element id on the answer form), when one is to blame."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def ordering_problem(ranks: dict[str, str]) -> tuple[str, str | None] | None:
    """What is wrong with the ranks given to the items of an ordering question, naming the ranks that
    collide (「2位が2つの項目に付いています」) and the items left without a rank; with the field of the
    first item to fix. None when every item has its own rank."""
    if not ranks:
        return None
    missing = [cid for cid, value in ranks.items() if not str(value).isdigit()]
    holders: dict[int, list[str]] = {}
    for cid, value in ranks.items():
        if str(value).isdigit():
            holders.setdefault(int(value), []).append(cid)
    collisions = {rank: ids for rank, ids in sorted(holders.items()) if len(ids) > 1}
    out_of_range = [cid for rank, ids in holders.items() for cid in ids if not 1 <= rank <= len(ranks)]
    parts = [f"{rank}位が{len(ids)}つの項目に付いています" for rank, ids in collisions.items()]
    if missing:
        parts.append(f"順位を選んでいない項目が{len(missing)}つあります")
    if out_of_range and not parts:
        parts.append("選べない順位が入っています")
    if not parts:
        return None
    first = next(iter(collisions.values()))[1] if collisions else (missing or out_of_range)[0]
    return "。".join(parts) + "。すべての項目に、重ならないように順位をつけてください（1が最優先）。", f"rank-{first}"


@dataclass(frozen=True)
class Grade:
    score: float | None
    rating: str | None


def choice_ids(data: dict[str, Any]) -> list[str]:
    return [c["id"] for c in data["choices"]]


def validate(qtype: str, data: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise a raw response; raises ResponseError with a Japanese message."""
    ids = choice_ids(data)
    if qtype == "single":
        choice = response.get("choice")
        if choice not in ids:
            raise ResponseError("選択肢を1つ選んでください。", "choice-" + ids[0])
        return {"choice": choice}
    if qtype == "multiple":
        chosen = [c for c in ids if c in set(response.get("choices") or [])]
        if not chosen:
            raise ResponseError("あてはまるものを1つ以上選んでください。", "choice-" + ids[0])
        return {"choices": chosen}
    if qtype == "ordering":
        order = list(response.get("order") or [])
        if sorted(order) != sorted(ids) or len(set(order)) != len(ids):
            problem = ordering_problem(response.get("ranks") or {})
            if problem is not None:
                raise ResponseError(*problem)
            raise ResponseError("すべての項目に、重ならないように順位をつけてください。", f"rank-{ids[0]}")
        return {"order": order}
    if qtype == "reflection":
        text = (response.get("text") or "").strip()
        if not text:
            raise ResponseError("考えたことを書いてください（短くてもかまいません）。", "text")
        if len(text) > MAX_REFLECTION_CHARS:
            raise ResponseError(f"{MAX_REFLECTION_CHARS}文字以内で書いてください（いま{len(text)}文字です）。", "text")
        return {"text": text}
    if qtype == "self_rating":
        ratings = response.get("ratings") or {}
        points = data["points"]
        unrated = [p for p in points if str(ratings.get(p)) not in {"1", "2", "3", "4", "5"}]
        if unrated:
            left = f"（あと{len(unrated)}つ：{'、'.join(unrated)}）" if len(unrated) < len(points) else ""
            raise ResponseError(f"すべてのポイントについて、1〜5のいずれかを選んでください{left}。", f"rating-{unrated[0]}-1")
        return {"ratings": {p: int(ratings[p]) for p in points}}
    raise ResponseError("この問題には回答できません。")


def grade(qtype: str, data: dict[str, Any], response: dict[str, Any]) -> Grade:
    """Score a validated response (0.0-1.0) and give it a rating."""
    ratings = {c["id"]: c["rating"] for c in data["choices"]}
    if qtype == "single":
        rating = ratings[response["choice"]]
        return Grade(RATING_SCORE[rating], rating)
    if qtype == "multiple":
        return _grade_multiple(ratings, set(response["choices"]))
    if qtype == "ordering":
        score = ordering_score(data["order"], response["order"])
        rating = "best" if score == 1.0 else "acceptable" if score >= ORDERING_ACCEPTABLE else "caution"
        return Grade(score, rating)
    return Grade(None, None)


def _grade_multiple(ratings: dict[str, str], chosen: set[str]) -> Grade:
    best = {c for c, r in ratings.items() if r == "best"}
    caution = {c for c, r in ratings.items() if r == "caution"}
    score = max(0.0, (len(chosen & best) - len(chosen & caution)) / len(best))
    if chosen & caution:
        rating = "caution"
    elif best <= chosen:
        rating = "best"
    else:
        rating = "acceptable"
    return Grade(round(score, 4), rating)


def ordering_score(recommended: list[str], given: list[str]) -> float:
    """Share of pairs in the same relative order as recommended (1.0 = identical)."""
    rank = {item: i for i, item in enumerate(given)}
    pairs = list(combinations(recommended, 2))
    if not pairs:
        return 1.0
    agree = sum(1 for a, b in pairs if rank[a] < rank[b])
    return round(agree / len(pairs), 4)
