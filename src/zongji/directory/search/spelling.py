"""How a name (and a person's numbers) can be typed, and whether a query matches it.

One rule, in one place, for the index and for every check: a name is typed token by token, each
token as its characters, a full reading (`zhang`) or an initial (`z`, or `zh`/`ch`/`sh`), and a
query matches when it is the start of such a spelling (so the last token it reaches may be typed
in part: `zhangsa`). The spellings of a name are a fixed, capped list (`forms`): the index holds
exactly those as keys, and `classify` accepts exactly the queries that are starts of them (with
any token's letters replaceable by its characters: `张s`). So a person is found by the same
queries whether they are in a freshly built index or were changed a moment ago.

A query that covers every token by full readings or characters (`zhangsan`, `张三`, `张san`), or
by single-letter initials (`zs`), is *exact*; one that starts at the first token is a *prefix*
match (`zhangs`, `张s`, `zsan`, `zhs`); one that starts at a later token (`san`, `sf` for 张三丰) is
*fuzzy*, as is a phone-number substring.

Polyphonic names have many spellings (区志强: ou/qu × zhi × qiang/jiang, each full or by initial),
so they are capped per start position, deterministically and most useful first: all-full and
all-initial spellings in order of reading likelihood (so `ouzhiqiang`, `quzhiqiang`, `ozq` and
`qzq` are always kept), then mixed ones (`ouzq`, `ozhiqiang`).
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Iterator, Sequence
from enum import IntEnum
from functools import lru_cache, reduce
from math import prod
from typing import NamedTuple

from zongji.directory.pinyin import Token, is_han

MAX_TOKENS = 8  # the index spells at most this many tokens from any start
MAX_FORMS = 48  # letter spellings per start position, most useful first …
UNIFORM_FORMS = 16  # … of which up to this many all-full and as many all-initial ones


class Match(IntEnum):
    EXACT = 0
    PREFIX = 1
    FUZZY = 2


# How one token is typed; bits, so that the styles of a spelling can be or-ed together (plain
# ints, not an enum: they are combined in the hot loop of building an index).
FULL = 1  # characters or a full reading
INITIAL = 2  # its first letter
SHORT = 4  # zh, ch or sh: neither full nor a single initial
Style = int


Option = tuple[str, Style]  # one way to type one token


class Form(NamedTuple):
    """One spelling of a run of tokens: one part per token."""

    spelled: str  # the parts joined: the index key
    parts: tuple[Option, ...]
    complete: bool  # starts at the first token and covers every token
    exact: bool  # complete and in one style (full or initial): equal to the query, exact


@lru_cache(maxsize=65_536)
def _options(token: Token) -> tuple[Option, ...]:
    """Ways to type one token with letters, most likely first: its full readings, then their
    initials, then zh/ch/sh."""
    full = [(r, FULL) for r in token.readings]
    initials = [(r[:1], INITIAL) for r in token.readings]
    shorts = [(r[:2], SHORT) for r in token.readings if r[:2] in ("zh", "ch", "sh")]
    return tuple(dict.fromkeys([*full, *initials, *shorts]))


def _most_likely_first(choices: Sequence[Sequence[Option]]) -> Iterator[tuple[Option, ...]]:
    """Every combination of one choice per token, in order of the sum of the choices' positions
    (the most likely readings first), ties in lexicographic order of positions: deterministic,
    and lazy, so a cap never enumerates the whole product."""
    if not choices or any(not c for c in choices):
        return
    first = (0,) * len(choices)
    heap: list[tuple[int, tuple[int, ...]]] = [(0, first)]
    seen = {first}
    while heap:
        cost, positions = heapq.heappop(heap)
        yield tuple(choices[i][k] for i, k in enumerate(positions))
        for i, k in enumerate(positions):
            if k + 1 < len(choices[i]):
                after = (*positions[:i], k + 1, *positions[i + 1 :])
                if after not in seen:
                    seen.add(after)
                    heapq.heappush(heap, (cost + 1, after))


def forms(tokens: tuple[Token, ...], start: int) -> tuple[Form, ...]:
    """The spellings of `tokens[start:]` (at most `MAX_TOKENS` of them), characters first."""
    return _forms(tokens[start : start + MAX_TOKENS], start == 0 and len(tokens) <= MAX_TOKENS)


@lru_cache(maxsize=65_536)  # given names repeat: 伟, 芳, 小明 … are spelled once per node
def _forms(part: tuple[Token, ...], whole: bool) -> tuple[Form, ...]:
    if not part:
        return ()
    chars = "".join(t.text for t in part)
    found: dict[str, Form] = {chars: Form(chars, tuple((t.text, FULL) for t in part), whole, whole)}

    def add(spelled: str, picked: tuple[Option, ...], styles: int) -> None:
        exact = whole and styles in (FULL, INITIAL)
        kept = found.get(spelled)
        if kept is None or (exact and not kept.exact):
            found[spelled] = Form(spelled, picked, whole, exact)

    options = [_options(t) for t in part]
    if prod(len(o) for o in options) <= MAX_FORMS:  # most names: every spelling, no choosing
        # built token by token on strings: this is the hot loop of building an index
        spelled: list[tuple[str, tuple[Option, ...], int]] = [("", (), 0)]
        for opts in options:
            spelled = [(s + o[0], (*p, o), m | o[1]) for s, p, m in spelled for o in opts]
        for text, picked, styles in spelled:
            add(text, picked, styles)
        return tuple(found.values())
    for style in (FULL, INITIAL):
        uniform = [[o for o in opts if o[1] == style] for opts in options]
        before = len(found)
        for picked in _most_likely_first(uniform):
            add("".join(p for p, _ in picked), picked, style)
            if len(found) - before >= UNIFORM_FORMS:
                break
    for picked in _most_likely_first(options):
        if len(found) > MAX_FORMS:  # the characters, then MAX_FORMS letter spellings
            break
        add("".join(p for p, _ in picked), picked, reduce(operator.or_, (s for _, s in picked)))
    return tuple(found.values())


def classify(query: str, tokens: tuple[Token, ...]) -> Match | None:
    """The best way `query` matches the name, or None: exactly the queries the index finds."""
    if not tokens or not query:
        return None
    letters_only = not any(is_han(c) for c in query)
    for start in range(len(tokens)):
        best: bool | None = None  # None: no match from this start; else whether exact
        for form in forms(tokens, start):
            if letters_only:
                if not form.spelled.startswith(query):
                    continue
                exact = form.exact and len(query) == len(form.spelled)
            else:
                covered = _typed(query, tokens[start:], form)
                if covered is None:
                    continue
                exact = covered
            best = exact or bool(best)
            if best:
                break
        if best is not None:
            if start:
                return Match.FUZZY
            return Match.EXACT if best else Match.PREFIX
    return None


def _typed(query: str, tokens: tuple[Token, ...], form: Form) -> bool | None:
    """Whether `query` is the start of `form` with some tokens typed as their characters: None if
    not; else whether it is exact (covers every token of a complete form in one style)."""
    pos, styles = 0, []
    for token, (part, style) in zip(tokens, form.parts, strict=False):
        if pos == len(query):
            return False  # stopped before this token: a start
        if query.startswith(token.text, pos):
            pos += len(token.text)
            styles.append(FULL)
        elif query.startswith(part, pos):
            pos += len(part)
            styles.append(style)
        elif part.startswith(query[pos:]) and not is_han(query[pos]):
            return False  # ends inside this token: a start
        else:
            return None
    if pos < len(query):
        return None
    uniform = len(set(styles)) == 1 and styles[0] != SHORT
    return form.complete and len(styles) == len(form.parts) and uniform


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
