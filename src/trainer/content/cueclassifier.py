"""A leave-one-module-out naive Bayes that picks the best option from its wording alone.

If a small model that sees nothing but the surface of the options (character 1-3-grams, the
option's length relative to the others in its question, its sentence count, whether it states a
motive) can pick the best option of a module it was not trained on, then a trainee can learn the
same habit, and the questions test style, not support.

Model: a binarised multinomial naive Bayes (each feature counted once per option; Laplace
smoothing, alpha = 1) with two classes, best and not best, trained on the options of every single
and multiple question of all *other* modules. In the held-out module each single question's
options are scored by the log-likelihood ratio best : not best; the top option is picked (ties
share the credit, see ``cues.credit``). Deterministic: no randomness, no iteration order effects.
Counts are built once for the whole tree and one module's counts are subtracted per fold.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from trainer.content.cues import AuditedQuestion, credit, length_ranks, normalize, tokens

__all__ = ["ClassifierResult", "QuestionVerdict", "alternative_features", "leave_one_module_out", "option_features",
           "rank_rule_accuracy"]

ALPHA = 1.0
NGRAM_SIZES = (1, 2, 3)
# Option length / mean length of the question's options -> bucket name (upper bounds).
_RATIO_BUCKETS = ((0.85, "much-shorter"), (0.95, "shorter"), (1.05, "average"), (1.15, "longer"))


@dataclass(frozen=True, slots=True)
class QuestionVerdict:
    """The classifier on one held-out single question: credit, margin, the picked option index and
    every option's score.

    ``margin`` = score of the best option - highest score of the other options (> 0: it picks the
    best outright; < 0: it prefers another option).
    """

    credit: float
    margin: float
    picked: int
    scores: tuple[float, ...] = ()


@dataclass(slots=True)
class ClassifierResult:
    """Overall and per-module accuracy on held-out single questions, and a verdict per question."""

    accuracy: float | None
    per_module: dict[str, float] = field(default_factory=dict)
    verdicts: dict[tuple[str, str], QuestionVerdict] = field(default_factory=dict)


@dataclass(slots=True)
class _Counts:
    """Per class: options containing each feature, and the sum of those counts."""

    best: Counter[str] = field(default_factory=Counter)
    other: Counter[str] = field(default_factory=Counter)
    sums: Counter[bool] = field(default_factory=Counter)

    def add(self, features: frozenset[str], is_best: bool) -> None:
        """Count one option."""
        (self.best if is_best else self.other).update(features)
        self.sums[is_best] += len(features)

    def seen(self, feature: str) -> int:
        """Options of either class with ``feature``."""
        return self.best[feature] + self.other[feature]


def option_features(question: AuditedQuestion, index: int) -> frozenset[str]:
    """Surface features of option ``index``: character n-grams and relative length, sentences, motive."""
    option = question.options[index]
    text = normalize(option.text)
    grams = {text[i:i + n] for n in NGRAM_SIZES for i in range(len(text) - n + 1)}
    lengths = [other.length for other in question.options]
    rank = length_ranks(lengths)[index]
    mean = sum(lengths) / len(lengths) or 1.0
    ratio = next((name for bound, name in _RATIO_BUCKETS if option.length / mean < bound), "much-longer")
    extra = {f"#rank:{rank}", f"#ratio:{ratio}", f"#sentences:{min(option.sentences, 3)}",
             f"#motive:{bool(option.motive)}"}
    return frozenset(grams | extra)


def alternative_features(question: AuditedQuestion, index: int) -> frozenset[str]:
    """A second, differently built view of an option: character 2-4-grams and word-like tokens, no
    length or sentence features. Wording tuned against one model must not simply fool this one."""
    text = normalize(question.options[index].text)
    grams = {text[i:i + n] for n in (2, 3, 4) for i in range(len(text) - n + 1)}
    return frozenset(grams | {f"#tok:{t}" for t in tokens(question.options[index].text)})


def leave_one_module_out(questions: Sequence[AuditedQuestion], featurize=None) -> ClassifierResult:
    """Train on all modules but one, test on that one's single questions, for every module."""
    featurize = featurize or option_features
    features = {(q.module, q.id): [featurize(q, i) for i in range(len(q.options))] for q in questions}
    total, per_module = _Counts(), {}
    for question in questions:
        counts = per_module.setdefault(question.module, _Counts())
        for feats, option in zip(features[(question.module, question.id)], question.options, strict=True):
            total.add(feats, option.best)
            counts.add(feats, option.best)
    result = ClassifierResult(accuracy=None)
    if len(per_module) < 2:
        return result
    vocabulary = len(set(total.best) | set(total.other))
    for module, held_out in per_module.items():
        tested = [q for q in questions if q.module == module and q.type == "single"]
        needed = {f for q in tested for feats in features[(module, q.id)] for f in feats}
        weights = _fold_weights(total, held_out, needed, vocabulary)
        for question in tested:
            scores = [sum(weights.get(f, 0.0) for f in feats) for feats in features[(module, question.id)]]
            result.verdicts[(module, question.id)] = _verdict(scores, question.best)
    _summarise(result, questions)
    return result


def _fold_weights(total: _Counts, held_out: _Counts, needed: set[str], vocabulary: int) -> dict[str, float]:
    """log P(f | best) - log P(f | not best) without the held-out module, for the ``needed`` features.

    Features never seen outside the held-out module carry no weight (they are not in the fold's
    vocabulary); the fold's vocabulary size drops the features seen only in the held-out module.
    """
    only_here = sum(1 for f in set(held_out.best) | set(held_out.other) if total.seen(f) == held_out.seen(f))
    size = vocabulary - only_here
    best_sum = total.sums[True] - held_out.sums[True] + ALPHA * size
    other_sum = total.sums[False] - held_out.sums[False] + ALPHA * size
    if total.sums[True] == held_out.sums[True] or total.sums[False] == held_out.sums[False]:
        return {}  # no best (or no other) option outside the held-out module: nothing to learn
    shift = math.log(other_sum) - math.log(best_sum)
    weights = {}
    for f in needed:
        best, other = total.best[f] - held_out.best[f], total.other[f] - held_out.other[f]
        if best or other:
            weights[f] = math.log(best + ALPHA) - math.log(other + ALPHA) + shift
    return weights


def _verdict(scores: list[float], best: list[bool]) -> QuestionVerdict:
    """Credit, margin and pick for one question's option scores."""
    best_score = max(score for score, is_best in zip(scores, best, strict=True) if is_best)
    others = [score for score, is_best in zip(scores, best, strict=True) if not is_best]
    margin = best_score - max(others) if others else 0.0
    picked = max(range(len(scores)), key=lambda i: (scores[i], -i))
    return QuestionVerdict(credit(scores, best), margin, picked, tuple(scores))


def _summarise(result: ClassifierResult, questions: Sequence[AuditedQuestion]) -> None:
    """Fill the overall and per-module accuracy from the verdicts."""
    by_module: dict[str, list[float]] = {}
    for question in questions:
        verdict = result.verdicts.get((question.module, question.id))
        if verdict is not None:
            by_module.setdefault(question.module, []).append(verdict.credit)
    result.per_module = {module: sum(c) / len(c) for module, c in by_module.items()}
    credits = [c for values in by_module.values() for c in values]
    result.accuracy = sum(credits) / len(credits) if credits else None


def rank_rule_accuracy(result: ClassifierResult, questions: Sequence[AuditedQuestion], k: int) -> float | None:
    """Accuracy of "pick the option the classifier ranks k-th" (1 = its own pick). Wording tuned
    until the classifier no longer picks the best can leave the best always second: that is a cue
    too. Options tied in score share a rank; the rule gives fair credit like any other rule."""
    credits = []
    for question in questions:
        verdict = result.verdicts.get((question.module, question.id))
        if verdict is None or not verdict.scores:
            continue
        ranks = length_ranks(list(verdict.scores))  # 1 + number of strictly higher scores
        credits.append(credit([-abs(rank - k) for rank in ranks], question.best))
    return sum(credits) / len(credits) if credits else None
