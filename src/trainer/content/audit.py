"""The cue audit: can a question's best option be found from the wording of the options alone?

``audit(content)`` returns plain, JSON-serialisable figures over all rated questions (single and
multiple; ordering questions have no ratings and are left out):

- ``length_ranks``: where the best options rank by length in their question (1 = longest);
- ``rules``: the accuracy on single questions of surface rules that rank options (longest,
  second-longest, shortest, fewest / most sentences, no motive clause), scored fairly
  (``cues.credit``: a k-way tie at the top earns 1/k if the best is among them), and ``chance``;
- ``tokens``: the ``TOP_TOKENS`` tokens whose rule "pick the option(s) containing it" scores
  highest, with that accuracy;
- ``classifier``: a leave-one-module-out naive Bayes on surface features (``cueclassifier``);
- ``structure``: option counts, rating mixes, bests per multiple question, best positions;
- ``modules``: the same figures per module, with every single question and the cues that give
  its best option away; ``worst``: the ``WORST_COUNT`` questions with the most cues.

``failures(report)`` gives the Japanese messages that make ``trainer content check`` fail: a rule
above ``RULE_ACCURACY_LIMIT`` or the classifier above ``CLASSIFIER_ACCURACY_LIMIT``. Trees with
fewer than ``MIN_SINGLE_QUESTIONS`` single questions get the figures but never fail (too few
questions for the figures to mean anything). ``auditreport`` renders the report as text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trainer.content.cueclassifier import (
    ClassifierResult, alternative_features, leave_one_module_out, rank_rule_accuracy,
)
from trainer.content.cues import AuditedQuestion, Option, credit, length_ranks
from trainer.content.schema import Content

__all__ = ["CLASSIFIER_ACCURACY_LIMIT", "MIN_SINGLE_QUESTIONS", "RULE_ACCURACY_LIMIT", "RULES", "TOP_TOKENS",
           "WORST_COUNT", "audit", "audited_questions", "exceeds", "failures", "percent", "rule_accuracy"]

# --- thresholds: the one place they are defined ------------------------------------------------
RULE_ACCURACY_LIMIT = 0.40  # a surface rule may not pick the best of more single questions than this
CLASSIFIER_ACCURACY_LIMIT = 0.45  # nor may the leave-one-module-out classifier
MIN_SINGLE_QUESTIONS = 20  # below this many single questions the audit reports but never fails
TOP_TOKENS = 30  # token rules audited (the tokens whose rule scores highest)
MIN_TOKEN_QUESTIONS = 3  # a token is a candidate when it is in the best option of this many questions
WORST_COUNT = 10  # questions listed as giving themselves away most
CUE_MARGIN = 0.05  # a rule "works" on a tree when its accuracy is at least chance + this

Scorer = Callable[[AuditedQuestion], list[float]]


def _lengths(q: AuditedQuestion) -> list[int]:
    """Option lengths."""
    return [option.length for option in q.options]


# key -> (Japanese label, scorer). A scorer gives each option a number; the rule picks the highest.
RULES: dict[str, tuple[str, Scorer]] = {
    "longest": ("最長の選択肢", lambda q: [float(n) for n in _lengths(q)]),
    "second_longest": ("2番目に長い選択肢", lambda q: [float(r == 2) for r in length_ranks(_lengths(q))]),
    "shortest": ("最短の選択肢", lambda q: [-float(n) for n in _lengths(q)]),
    "fewest_sentences": ("文の数が最も少ない選択肢", lambda q: [-float(o.sentences) for o in q.options]),
    "most_sentences": ("文の数が最も多い選択肢", lambda q: [float(o.sentences) for o in q.options]),
    "no_motive": ("動機句のない選択肢", lambda q: [float(not o.motive) for o in q.options]),
}


def audited_questions(content: Content, root: Path | None = None) -> list[AuditedQuestion]:
    """Every single and multiple question with its measured options, in module order.

    Each question's ``source`` is its file as shown in messages: root/quizzes/<file> when
    ``root`` is given, else the path relative to the content root.
    """
    shown = {module.id: (Path(root) / module.source).as_posix() if root else module.source
             for module in content.modules}
    return [
        AuditedQuestion(module.id, shown[module.id], question.line, question.id, question.type,
                        tuple(Option.of(choice.text, choice.rating or "") for choice in question.choices))
        for module, question in content.questions()
        if question.type in ("single", "multiple") and question.choices
    ]


def rule_accuracy(questions: Sequence[AuditedQuestion], scorer: Scorer) -> float | None:
    """Mean credit of a rule over ``questions`` (None when there are none)."""
    credits = [credit(scorer(q), q.best) for q in questions]
    return sum(credits) / len(credits) if credits else None


def _mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean, None for no values."""
    return sum(values) / len(values) if values else None


# --- tokens -------------------------------------------------------------------------------------


def token_rules(singles: Sequence[AuditedQuestion], limit: int = TOP_TOKENS) -> list[dict[str, Any]]:
    """The ``limit`` tokens whose rule "pick the option(s) containing it" has the highest accuracy.

    A question where no option has the token earns the chance level, so a token's accuracy is
    chance + (sum over the questions where it occurs of credit - chance) / all questions. Only
    tokens in the best option of at least ``MIN_TOKEN_QUESTIONS`` questions are candidates; ties
    are broken by the token itself, so the list is deterministic.
    """
    if not singles:
        return []
    gain: Counter[str] = Counter()
    in_best: Counter[str] = Counter()
    in_other: Counter[str] = Counter()
    for q in singles:
        for token in set().union(*(option.tokens for option in q.options)):
            marks = [token in option.tokens for option in q.options]
            gain[token] += credit([float(m) for m in marks], q.best) - q.chance
            in_best[token] += any(m and b for m, b in zip(marks, q.best, strict=True))
            in_other[token] += any(m and not b for m, b in zip(marks, q.best, strict=True))
    chance = _mean([q.chance for q in singles]) or 0.0
    candidates = [t for t in gain if in_best[t] >= MIN_TOKEN_QUESTIONS]
    candidates.sort(key=lambda t: (-gain[t], t))
    return [{"token": t, "label": f"語句『{t}』を含む選択肢", "accuracy": chance + gain[t] / len(singles),
             "best_questions": in_best[t], "other_questions": in_other[t]} for t in candidates[:limit]]


def _token_scorer(token: str) -> Scorer:
    """The rule "pick the option(s) containing ``token``"."""
    return lambda q: [float(token in option.tokens) for option in q.options]


# --- structure ----------------------------------------------------------------------------------


def structure(questions: Sequence[AuditedQuestion]) -> dict[str, Any]:
    """Option counts and rating mixes per type, bests per multiple question, best positions."""
    option_counts: dict[str, Counter[int]] = {"single": Counter(), "multiple": Counter()}
    mixes: Counter[tuple[str, int, int, int, int]] = Counter()
    bests: Counter[int] = Counter()
    positions: Counter[str] = Counter()
    for q in questions:
        ratings = Counter(option.rating for option in q.options)
        option_counts[q.type][len(q.options)] += 1
        mixes[(q.type, len(q.options), ratings["best"], ratings["acceptable"], ratings["caution"])] += 1
        if q.type == "multiple":
            bests[ratings["best"]] += 1
        else:
            positions.update(f"{i + 1}/{len(q.options)}" for i, option in enumerate(q.options) if option.best)
    return {
        "option_counts": {kind: _keyed(counts) for kind, counts in option_counts.items()},
        "rating_mixes": [{"type": kind, "options": n, "best": b, "acceptable": a, "caution": c, "questions": count}
                         for (kind, n, b, a, c), count in sorted(mixes.items(), key=lambda kv: (kv[0][0], -kv[1]))],
        "bests_per_multiple": _keyed(bests),
        "best_positions_single": dict(sorted(positions.items())),
    }


def _keyed(counts: Counter[int]) -> dict[str, int]:
    """A Counter of ints as a JSON object with string keys in numeric order."""
    return {str(key): counts[key] for key in sorted(counts)}


def best_length_ranks(questions: Sequence[AuditedQuestion]) -> dict[str, int]:
    """How many best options have each length rank (1 = longest) in their question."""
    ranks: Counter[int] = Counter()
    for q in questions:
        ranks.update(rank for rank, is_best in zip(length_ranks(_lengths(q)), q.best, strict=True) if is_best)
    return _keyed(ranks)


# --- the report ---------------------------------------------------------------------------------


def audit(content: Content, root: Path | None = None) -> dict[str, Any]:
    """The full audit of ``content`` as plain data (see the module docstring for the keys).

    ``root`` (the content directory) only prefixes the ``path`` shown for each question.
    """
    questions = audited_questions(content, root)
    singles = [q for q in questions if q.type == "single"]
    classifier = leave_one_module_out(questions)
    second = leave_one_module_out(questions, alternative_features)
    rules = [{"key": key, "label": label, "accuracy": rule_accuracy(singles, scorer)}
             for key, (label, scorer) in RULES.items()]
    rules += [{"key": f"classifier-rank-{k}", "label": f"分類器が{k}番目に最適らしいとする選択肢",
               "accuracy": rank_rule_accuracy(classifier, singles, k)} for k in (2, 3, 4)]
    tokens = token_rules(singles)
    chance = _mean([q.chance for q in singles])
    details = _question_details(singles, rules, tokens, classifier, chance)
    report: dict[str, Any] = {
        "thresholds": {"rule": RULE_ACCURACY_LIMIT, "classifier": CLASSIFIER_ACCURACY_LIMIT,
                       "min_single_questions": MIN_SINGLE_QUESTIONS},
        "enforced": len(singles) >= MIN_SINGLE_QUESTIONS,
        "counts": {"single": len(singles), "multiple": len(questions) - len(singles),
                   "options": sum(len(q.options) for q in questions),
                   "modules": len({q.module for q in questions})},
        "chance": chance,
        "length_ranks": {kind: best_length_ranks([q for q in questions if q.type == kind])
                         for kind in ("single", "multiple")},
        "rules": rules,
        "tokens": tokens,
        "classifier": {"accuracy": classifier.accuracy, "per_module": classifier.per_module},
        "second_classifier": {"accuracy": second.accuracy, "per_module": second.per_module},
        "structure": structure(questions),
        "modules": _modules(content, questions, classifier, details),
        "worst": _worst(details),
    }
    report["failures"] = failures(report)
    return report


def _question_details(singles: Sequence[AuditedQuestion], rules: list[dict[str, Any]], tokens: list[dict[str, Any]],
                      classifier: ClassifierResult, chance: float | None) -> dict[str, dict[str, Any]]:
    """Per single question: best length rank, the cues that pick its best outright, classifier margin.

    A cue counts when it picks the best option alone (credit 1) and works on the whole tree
    (accuracy at least chance + ``CUE_MARGIN``): each such surface rule, the token rules
    (together, as one cue) and the classifier.
    """
    floor = (chance or 0.0) + CUE_MARGIN - 1e-9
    working = [(r["label"], RULES[r["key"]][1]) for r in rules if r["key"] in RULES and (r["accuracy"] or 0.0) >= floor]
    ranked = {int(r["key"].rsplit("-", 1)[1]): r["label"] for r in rules
              if r["key"].startswith("classifier-rank-") and (r["accuracy"] or 0.0) >= floor}
    words = [t["token"] for t in tokens if t["accuracy"] >= floor]
    details = {}
    for q in singles:
        cues = [label for label, scorer in working if credit(scorer(q), q.best) == 1.0]
        hits = [w for w in words if credit(_token_scorer(w)(q), q.best) == 1.0]
        verdict = classifier.verdicts.get((q.module, q.id))
        if verdict is not None and verdict.scores and ranked:
            order = length_ranks(list(verdict.scores))
            best_rank = {r for r, b in zip(order, q.best, strict=True) if b}
            if len(best_rank) == 1 and order.count(next(iter(best_rank))) == 1 and next(iter(best_rank)) in ranked:
                cues.append(ranked[next(iter(best_rank))])
        picked = verdict is not None and verdict.credit == 1.0 and (classifier.accuracy or 0.0) >= floor
        rank = min(r for r, b in zip(length_ranks(_lengths(q)), q.best, strict=True) if b)
        details[q.id] = {
            "module": q.module, "path": q.source, "line": q.line, "question": q.id, "best_length_rank": rank,
            "rules": cues, "tokens": hits, "classifier": picked,
            "classifier_margin": round(verdict.margin, 3) if verdict else None,
            "cue_count": len(cues) + bool(hits) + picked,
        }
    return details


def _modules(content: Content, questions: Sequence[AuditedQuestion], classifier: ClassifierResult,
             details: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per module: counts, chance, rule accuracies, classifier, length ranks, question details."""
    modules = []
    for module in content.modules:
        own = [q for q in questions if q.module == module.id]
        singles = [q for q in own if q.type == "single"]
        modules.append({
            "id": module.id, "source": module.source, "single": len(singles), "multiple": len(own) - len(singles),
            "chance": _mean([q.chance for q in singles]),
            "rules": {key: rule_accuracy(singles, scorer) for key, (_label, scorer) in RULES.items()},
            "classifier": classifier.per_module.get(module.id),
            "length_ranks": {kind: best_length_ranks([q for q in own if q.type == kind])
                             for kind in ("single", "multiple")},
            "questions": [details[q.id] for q in singles],
        })
    return modules


def _worst(details: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The questions with the most cues; ties: the larger classifier margin first, then file order."""
    ranked = sorted((d for d in details.values() if d["cue_count"]),
                    key=lambda d: (-d["cue_count"], -(d["classifier_margin"] or 0.0), d["path"], d["line"]))
    return ranked[:WORST_COUNT]


def failures(report: dict[str, Any]) -> list[str]:
    """Japanese messages for every figure above its limit (none when the tree is too small)."""
    if not report["enforced"]:
        return []
    chance = f"偶然の水準 {percent(report['chance'])}"
    messages = []
    for rule in [*report["rules"], *report["tokens"]]:
        if exceeds(rule["accuracy"], RULE_ACCURACY_LIMIT):
            messages.append(f"手がかり監査: 規則「{rule['label']}を選ぶ」だけで単一選択問題の {percent(rule['accuracy'])} "
                            f"に正解できます（上限 {percent(RULE_ACCURACY_LIMIT)}、{chance}）")
    for key, name in (("classifier", "分類器"), ("second_classifier", "別の作りの分類器（2〜4文字と語）")):
        accuracy = report.get(key, {}).get("accuracy")
        if exceeds(accuracy, CLASSIFIER_ACCURACY_LIMIT):
            messages.append(f"手がかり監査: 選択肢の文面だけを見る{name}（ほかのモジュールで学習）が単一選択問題の "
                            f"{percent(accuracy)} に正解します（上限 {percent(CLASSIFIER_ACCURACY_LIMIT)}、{chance}）")
    return messages


def exceeds(accuracy: float | None, limit: float) -> bool:
    """True when ``accuracy``, rounded to 0.1 percentage point as shown, exceeds ``limit``."""
    return accuracy is not None and round(accuracy * 100, 1) > round(limit * 100, 1)


def percent(value: float | None) -> str:
    """0.6234 -> '62.3%'; None -> '—'."""
    return "—" if value is None else f"{value * 100:.1f}%"
