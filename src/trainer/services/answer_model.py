"""An ability model for synthetic answers (services/simulate): plausible answer patterns, so that
item statistics, their flags and the national view show something in the demo.

Each simulated trainee has an ability θ (standard normal). Each scored question has a difficulty b
and a discrimination a; the chance of the best answer is the two-parameter logistic
P = 1 / (1 + exp(-a (θ - b))). When the trainee misses the best answer, they pick among the other
options — acceptable ones more often than 要注意 (caution) ones, stronger trainees more so.

Some questions are given a role, so the statistics have something to find:

- ``easy``: b = -4, almost everybody finds the best answer (facility above 0.95);
- ``lure``: one 要注意 option is tempting: it is chosen more often than the best one.

The response goes through the real grader (services/grading), so scores and ratings are exactly
what a trainee answering the same way would get. Pure functions: the caller brings the random
generator (seeded: the same seed gives the same population).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from trainer.services import grading

SCORED = ("single", "multiple", "ordering")
REFLECTION_TEXT = "【模擬】この場面で考えたことの例文です（模擬データ）。"


@dataclass(frozen=True)
class Traits:
    """How a question behaves in the simulation."""

    difficulty: float = 0.0
    discrimination: float = 1.2
    role: str = "ordinary"      # ordinary, easy, lure
    lure: str | None = None     # the tempting caution option of a ``lure`` question


def best_chance(traits: Traits, ability: float) -> float:
    """The two-parameter logistic chance of the best answer."""
    return 1.0 / (1.0 + math.exp(-traits.discrimination * (ability - traits.difficulty)))


def assign_traits(questions: list[tuple[str, str, dict[str, Any]]], rng: random.Random,
                  easy_share: float = 0.08) -> dict[str, Traits]:
    """Traits for every scored question, keyed by question key. ``questions``: (key, type, data),
    in a stable order. About ``easy_share`` of them are too easy; one single-choice question with a
    caution option gets a tempting lure."""
    scored = [(k, t, d) for k, t, d in questions if t in SCORED]
    out: dict[str, Traits] = {}
    for key, _, _ in scored:
        out[key] = Traits(difficulty=rng.gauss(-0.6, 0.8), discrimination=rng.uniform(0.6, 1.8))
    candidates = [(k, d) for k, t, d in scored if t == "single" and _ids(d, "caution")]
    if candidates:
        key, data = candidates[rng.randrange(len(candidates))]
        out[key] = Traits(difficulty=1.2, discrimination=1.0, role="lure", lure=_ids(data, "caution")[0])
    others = [k for k, _, _ in scored if out[k].role == "ordinary"]
    for key in rng.sample(others, max(1, round(easy_share * len(scored)))) if others else []:
        out[key] = Traits(difficulty=-4.0, discrimination=1.0, role="easy")
    return out


def _ids(data: dict[str, Any], rating: str) -> list[str]:
    return [c["id"] for c in data.get("choices", []) if c.get("rating") == rating]


def respond(qtype: str, data: dict[str, Any], traits: Traits | None, ability: float,
            rng: random.Random) -> dict[str, Any]:
    """A response a trainee of this ability might give (validated by the real grader's rules)."""
    if qtype == "reflection":
        return {"text": REFLECTION_TEXT}
    if qtype == "self_rating":
        return {"ratings": {p: min(5, max(1, round(3 + ability + rng.gauss(0, 0.8)))) for p in data["points"]}}
    traits = traits or Traits()
    hit = rng.random() < best_chance(traits, ability)
    if qtype == "single":
        return {"choice": _single(data, traits, ability, hit, rng)}
    if qtype == "multiple":
        return {"choices": _multiple(data, ability, hit, rng)}
    return {"order": _ordering(data, hit, rng)}


def _single(data: dict[str, Any], traits: Traits, ability: float, hit: bool, rng: random.Random) -> str:
    best = _ids(data, "best")
    if hit and best:
        return best[0]
    others = [c for c in data["choices"] if c["rating"] != "best"] or data["choices"]
    weights = []
    for choice in others:
        if choice["id"] == traits.lure:
            weights.append(8.0)
        elif choice["rating"] == "acceptable":
            weights.append(max(0.3, 2.0 + 0.6 * ability))
        else:
            weights.append(max(0.3, 1.0 - 0.3 * ability))
    return rng.choices(others, weights)[0]["id"]


def _multiple(data: dict[str, Any], ability: float, hit: bool, rng: random.Random) -> list[str]:
    best, caution, acceptable = _ids(data, "best"), _ids(data, "caution"), _ids(data, "acceptable")
    if hit:
        return best
    chosen = {b for b in best if rng.random() < 0.7}
    if caution and rng.random() < max(0.15, 0.6 - 0.2 * ability):
        chosen.add(rng.choice(caution))
    if acceptable and rng.random() < 0.4:
        chosen.add(rng.choice(acceptable))
    if set(best) <= chosen and not chosen & set(caution):  # the grader would call this best: a miss is a miss
        if len(best) > 1:
            chosen.discard(rng.choice(best))
        else:
            chosen = {caution[0]} | chosen if caution else set(acceptable[:1]) or chosen
    if not chosen:
        chosen = {(caution or acceptable or best)[0]} if (caution or acceptable or len(best) > 1) else set(best)
    return [c["id"] for c in data["choices"] if c["id"] in chosen]


def _ordering(data: dict[str, Any], hit: bool, rng: random.Random) -> list[str]:
    order = list(data["order"])
    if hit or len(order) < 2:
        return order
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(order) - 1)
        order[i], order[i + 1] = order[i + 1], order[i]
    return order if order != list(data["order"]) else order[1:2] + order[:1] + order[2:]


def answer(qtype: str, data: dict[str, Any], traits: Traits | None, ability: float,
           rng: random.Random) -> tuple[dict[str, Any], grading.Grade]:
    """A validated response and its grade."""
    response = grading.validate(qtype, data, respond(qtype, data, traits, ability, rng))
    return response, grading.grade(qtype, data, response)
