"""The password rules, one set for every way an account gets a password (forms, roster import, CLI,
walk-in registration, resets): length, not a common password, nothing from the account itself, not
the current password again.

The common passwords are the 30,000 most frequent of the zxcvbn package's list (seed/
common-passwords.txt.gz; provenance and licence in docs/security.md). A password is refused when it,
lower-cased, is on the list, and also when it is a listed password with digits or symbols added at
the end ("password2024!"), since those pass a length rule without being any harder to guess.
"""
from __future__ import annotations

import gzip
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

MIN_LENGTH = 10
MAX_LENGTH = 128
#: Words anyone would try first on this service (ASVS: context-specific words).
CONTEXT_WORDS = ("hikikomori", "hikikomorisien", "hikikomorishien", "trainer", "kenshuu", "kensyuu", "shienkenshu",
                 "handbook", "mhlw", "kouroushou", "koroshou", "sasaeru", "yorisou")
_DECORATION = re.compile(r"[\d\W_]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@cache
def common_passwords() -> frozenset[str]:
    raw = resources.files("trainer.seed").joinpath("common-passwords.txt.gz").read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _fold(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value or "").casefold()


def is_common(password: str) -> bool:
    folded = _fold(password)
    stem = _DECORATION.sub("", folded)
    listed = common_passwords()
    return folded in listed or (len(stem) >= 4 and stem in listed)


@dataclass(frozen=True)
class Context:
    """What the account itself gives away: its login ID, name, furigana and e-mail address."""

    login_id: str = ""
    names: tuple[str, ...] = ()
    email: str = ""

    def fragments(self) -> tuple[set[str], set[str]]:
        """(login fragments, name fragments) that a password must not contain (folded)."""
        login = _fold(self.login_id)
        logins = {login} if len(login) >= 3 else set()
        logins |= {part for part in re.split(r"[._@-]+", login) if len(part) >= 4}
        names: set[str] = set()
        for name in self.names:
            folded = _fold(name)
            names |= {part for part in folded.split() if len(part) >= 2}
            if len(joined := "".join(folded.split())) >= 2:
                names.add(joined)
        local = _fold(self.email).split("@")[0]
        if len(local) >= 3:
            names.add(local)
        return logins, names


def problem(password: str, context: Context | None = None) -> str | None:
    """The first rule ``password`` breaks, as a Japanese message, or None."""
    if _CONTROL.search(password):
        return "パスワードに使えない文字（制御文字）が含まれています。"
    if len(password) < MIN_LENGTH:
        return f"パスワードは{MIN_LENGTH}文字以上にしてください。"
    if len(password) > MAX_LENGTH:
        return f"パスワードは{MAX_LENGTH}文字以内にしてください。"
    if len(set(password)) < 4:
        return "同じ文字の繰り返しが多すぎます。推測されにくいパスワードにしてください。"
    if is_common(password):
        return "よく使われていて推測されやすいパスワードです。ほかの人が思いつかない言葉の組み合わせにしてください。"
    folded = _fold(password)
    if any(word in folded for word in CONTEXT_WORDS):
        return "このサービスに関係する言葉（hikikomori、trainer など）はパスワードに使わないでください。"
    if context is not None:
        logins, names = context.fragments()
        if any(f in folded for f in logins):
            return "パスワードにログインIDを含めないでください。"
        if any(f in folded for f in names):
            return "パスワードに氏名・ふりがな・メールアドレスを含めないでください。"
    return None


def context_of(login_id: str, names: Iterable[str | None] = (), email: str | None = None) -> Context:
    return Context(login_id or "", tuple(n for n in names if n), email or "")
