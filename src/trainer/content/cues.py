"""Surface features of an answer option, and the fair scoring of a rule that ranks options.

A *surface cue* is something in the wording of an option that tells which option is best without
any knowledge of support: its length, how many sentences it has, whether it states the
supporter's motive (「〜ため、」), a favourite word. ``Option.of(text, rating)`` measures one option;
``credit(scores, best)`` scores one question under a rule that gives each option a number.

Definitions (docs/content-format.md repeats them for writers):

- Text is NFKC-normalised (full-width letters and digits become ASCII) and spaces are ignored.
- *Length*: characters without whitespace. *Length rank*: 1 + the number of options in the same
  question that are strictly longer (rank 1 = longest; equal lengths share a rank).
- *Sentences*: segments ended by 。！？!? (or by the end of the text) outside brackets 「」『』()
  — 「『大丈夫です。』と伝える。」 is one sentence.
- *Motive clause*: one of ``MOTIVE_PATTERNS`` (the supporter's reason or purpose stated in the
  option itself).
- *Tokens*: word-like runs of one script — kanji (with 々〆ヶ), katakana (with ー), ASCII letters
  and digits, and hiragana runs of 2 or more characters that do not directly follow a kanji (so
  okurigana such as the える of 伝える and particles after a noun are left out, while まず, そっと,
  いっしょに count). 「まず一緒に考える」 gives まず / 一緒 / 考. Deterministic: no dictionary,
  no model.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["MOTIVE_PATTERNS", "AuditedQuestion", "Option", "credit", "length_ranks", "motive_markers", "normalize",
           "sentence_count", "tokens"]

# name -> regex (on NFKC text). Each needs a verb/adjective ending or の before the marker, so
# that 「確かめる」「のでき」「それから、」「〜ようになる」 do not count.
MOTIVE_PATTERNS: dict[str, re.Pattern[str]] = {
    # 「本人のため、」「届けるために」「知るためにも」: purpose or cause
    "ため": re.compile(r"[のるたいずぬ]ため(?:に|、|,)"),
    # 「届くように添え」「驚かせないように」 but not 「〜ようになる」「〜ようにする」 (an action)
    "ように": re.compile(r"[るいずくぬ]ように(?![なすし])"),
    # 「届くよう、」「連れてきてもらえるよう、」
    "よう、": re.compile(r"[るいずくぬ]よう[、,]"),
    # 「変化が見られないので」「大切にしたいので」 but not 「相談のできる」
    "ので": re.compile(r"[るたいなずだ]ので(?!き)"),
    # 「心配だから、」「遠いから、」 but not 「〜してから、」「それから、」
    "から、": re.compile(r"[るたいなだず]から[、,]"),
    # 「今が機会だと考え、」「疲れているのだと思い、」: the supporter's reasoning
    "と考え、": re.compile(r"と(?:考え|思い|判断し)て?[、,]"),
}
_TERMINAL = "。！？!?"
_OPEN, _CLOSE = "「『(", "」』)"
_KANJI = "一-鿿々〆ヶ"
_TOKEN = re.compile(rf"[{_KANJI}]+|[ァ-ヺー]+|[A-Za-z0-9]+|(?<![{_KANJI}ぁ-ゖ])[ぁ-ゖ]{{2,}}")


def normalize(text: str) -> str:
    """NFKC text without whitespace: the form every measure works on."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def sentence_count(text: str) -> int:
    """Sentences outside brackets: segments ended by 。！？!? or by the end of the text."""
    depth, count, pending = 0, 0, False
    for char in normalize(text):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(depth - 1, 0)
        if depth == 0 and char in _TERMINAL:
            count, pending = count + pending, False
        else:
            pending = True
    return count + pending


def motive_markers(text: str) -> list[str]:
    """Names of the ``MOTIVE_PATTERNS`` found in ``text``."""
    plain = normalize(text)
    return [name for name, pattern in MOTIVE_PATTERNS.items() if pattern.search(plain)]


def tokens(text: str) -> frozenset[str]:
    """The set of word-like script runs in ``text`` (see the module docstring)."""
    return frozenset(_TOKEN.findall(normalize(text)))


def length_ranks(lengths: Sequence[int]) -> list[int]:
    """Rank of each length: 1 + the number of strictly longer ones (1 = longest)."""
    return [1 + sum(other > length for other in lengths) for length in lengths]


@dataclass(frozen=True, slots=True)
class Option:
    """One answer option reduced to what the audit measures."""

    text: str
    rating: str
    length: int
    sentences: int
    motive: tuple[str, ...]
    tokens: frozenset[str]

    @classmethod
    def of(cls, text: str, rating: str) -> Option:
        """Measure ``text``."""
        return cls(text, rating, len(normalize(text)), sentence_count(text), tuple(motive_markers(text)),
                   tokens(text))

    @property
    def best(self) -> bool:
        """True for a best (最適) option."""
        return self.rating == "best"


def credit(scores: Sequence[float], best: Sequence[bool]) -> float:
    """Credit of a rule on one question: the share of best options among the top-scored ones.

    A rule picks the option(s) with the highest score. When k options tie for the top, the
    question earns (best among them) / k: a rule that tells nothing (all scores equal) earns the
    chance level (best options / options), never 0 or 1.
    """
    top = max(scores)
    tied = [is_best for score, is_best in zip(scores, best, strict=True) if abs(score - top) <= 1e-9]
    return sum(tied) / len(tied)


@dataclass(frozen=True, slots=True)
class AuditedQuestion:
    """A rated question (single or multiple) reduced to its place and its measured options."""

    module: str
    source: str
    line: int
    id: str
    type: str
    options: tuple[Option, ...]

    @property
    def best(self) -> list[bool]:
        """For each option: is it a best option?"""
        return [option.best for option in self.options]

    @property
    def chance(self) -> float:
        """Credit of a rule that tells nothing: best options / options."""
        return sum(self.best) / len(self.options)
