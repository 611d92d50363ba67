"""How a name (and a person's numbers) can be typed, and whether a query matches it.

Both halves use the same rule, so the index and the check never disagree: each token of the name
is typed as its characters, a full reading, or the start of a reading (`zhang`, `zh`, `z`), one
after another. A query that covers every token fully (`zhangsan`, `张三`) or by initials only
(`zs`) is *exact*; one that starts at the first token is a *prefix* match (`zhangs`, `张s`, `zsan`);
one that starts at a later token (`san`, `sf` for 张三丰) is *fuzzy*, as is a phone-number
substring.
"""

from __future__ import annotations

from enum import IntEnum
from functools import cache, lru_cache

from zongji.directory.pinyin import Token

MAX_TOKENS = 8  # the index spells at most this many tokens from any start
MAX_FORMS = 32  # spellings per start position, most useful first


class Match(IntEnum):
    EXACT = 0
    PREFIX = 1
    FUZZY = 2


@lru_cache(maxsize=65_536)
def _options(token: Token) -> tuple[str, ...]:
    """Ways to type one token in the index: readings and their starts. (Characters mixed with
    letters, `张s`, are matched by spelling the query's characters, see `Query.spellings`.)"""
    options = []
    for reading in token.readings:
        options.append(reading)
    for reading in token.readings:
        if reading[:2] in ("zh", "ch", "sh"):
            options.append(reading[:2])
        options.append(reading[:1])
    return tuple(dict.fromkeys(options))


def forms(tokens: tuple[Token, ...], start: int) -> tuple[tuple[str, bool], ...]:
    """Spellings of `tokens[start:]` with whether each is complete-and-uniform (full readings or
    characters throughout, or initials throughout): those are exact when equal to the query."""
    return _forms(tokens[start : start + MAX_TOKENS], start == 0 and len(tokens) <= MAX_TOKENS)


@lru_cache(maxsize=65_536)  # given names repeat: 伟, 芳, 小明 … are spelled once per node
def _forms(part: tuple[Token, ...], whole: bool) -> tuple[tuple[str, bool], ...]:
    if not part:
        return ()
    out: dict[str, bool] = {"".join(t.text for t in part): whole}
    # uniform spellings first, so the cap below never drops them
    for index in range(max(len(t.readings) for t in part)):
        full = "".join(t.readings[min(index, len(t.readings) - 1)] for t in part)
        initials = "".join(t.readings[min(index, len(t.readings) - 1)][:1] for t in part)
        for spelled in (full, initials):
            out.setdefault(spelled, whole)
    partial = [""]
    for token in part:
        partial = [p + o for p in partial for o in _options(token)][: MAX_FORMS * 4]
    for spelled in partial:
        out.setdefault(spelled, False)
        if len(out) >= MAX_FORMS:
            break
    return tuple(out.items())


def classify(query: str, tokens: tuple[Token, ...]) -> Match | None:
    """The best way `query` matches the name, or None."""
    if not tokens or not query:
        return None
    best: Match | None = None
    for start in range(len(tokens)):
        result = _match(query, tokens[start:])
        if result is None:
            continue
        complete, uniform = result
        found = Match.FUZZY if start else (Match.EXACT if complete and uniform else Match.PREFIX)
        if best is None or found < best:
            best = found
        if best is Match.EXACT or start == 0:
            break
    return best


def _match(query: str, tokens: tuple[Token, ...]) -> tuple[bool, bool] | None:
    """(all tokens covered, covered uniformly) if `query` matches from the first token."""

    @cache
    def step(i: int, pos: int, style: str) -> tuple[bool, bool] | None:
        if pos == len(query):
            return (i == len(tokens), style != "mixed")
        if i == len(tokens):
            return None
        token = tokens[i]
        best: tuple[bool, bool] | None = None
        candidates: list[tuple[int, str]] = []
        if query.startswith(token.text, pos):
            candidates.append((len(token.text), "full"))
        for reading in token.readings:
            for k in range(len(reading), 0, -1):
                if query.startswith(reading[:k], pos):
                    kind = "full" if k == len(reading) else ("initial" if k == 1 else "mixed")
                    candidates.append((k, kind))
        for length, kind in candidates:
            new_style = kind if style in ("", kind) else "mixed"
            result = step(i + 1, pos + length, new_style)
            if result is not None and (best is None or result > best):
                best = result
                if best == (True, True):
                    return best
        return best

    return step(0, 0, "")


def national(e164: str) -> str:
    """How people type a Chinese number: 13800000001, 02584000001 (others: digits of E.164)."""
    if e164.startswith("+86"):
        rest = e164[3:]
        return rest if rest.startswith("1") and len(rest) == 11 else "0" + rest
    return e164.lstrip("+")


def classify_number(query: str, numbers: tuple[str, ...], extension: str | None) -> Match | None:
    best: Match | None = None
    for number in ((extension,) if extension else ()) + numbers:
        if number == query:
            return Match.EXACT
        found = (
            Match.PREFIX if number.startswith(query) else Match.FUZZY if query in number else None
        )
        if found is not None and (best is None or found < best):
            best = found
    return best
