"""Lexical pieces of the SIP grammar (RFC 3261 §25) shared by every header and URI parser.

Character classes, quoted strings, percent-escapes and `;name=value` parameter lists live here
once, so that URIs, name-addrs, Via and the other typed header values agree on them.
Regular expressions do the scanning: in CPython they are far cheaper than walking a string
character by character, and the parser is on the hot path.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from zongji.sip.errors import SipParseError

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS: Final = r"A-Za-z0-9\-.!%*_+`'~"  # noqa: S105 (a grammar rule, not a secret)
TOKEN_RE: Final = re.compile(f"[{TOKEN_CHARS}]+")
# word = 1*(token chars / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?"
#           / "{" / "}")
WORD_RE: Final = re.compile(f'[{TOKEN_CHARS}()<>:\\\\"/\\[\\]?{{}}]+')
LWS: Final = " \t"

# quoted-string content: qdtext or quoted-pair; UTF-8 (and, via surrogateescape, any byte) allowed.
# Written as "runs of qdtext, each quoted-pair followed by another run" rather than one
# alternation per character: the same strings, but the regex engine takes a run of plain
# characters in one step (a Digest nonce or response is read about four times faster).
_QUOTED_BODY: Final = r'[^"\\\r\n]*(?:\\[\x00-\x09\x0b\x0c\x0e-\x7f][^"\\\r\n]*)*'
QUOTED_STRING_RE: Final = re.compile(f'"({_QUOTED_BODY})"')
_QUOTED_PAIR_RE: Final = re.compile(r"\\(.)", re.DOTALL)
# Characters that may stand unescaped inside a quoted string (qdtext): LWS, %x21, %x23-5B,
# %x5D-7E and anything non-ASCII. Everything else needs a backslash.
_NEEDS_QUOTED_PAIR_RE: Final = re.compile(r'[\x00-\x08\x0a-\x1f"\\\x7f]')

# A parameter: `;` name [ `=` ( token / host / quoted-string ) ], with optional LWS around
# `;` and `=`. The value class is wider than token/host so that common sloppy values (with
# `/`, `@`, `:` ...) survive, but it stops at the delimiters the surrounding grammar needs.
_PARAM_RE: Final = re.compile(
    f'[ \\t]*;[ \\t]*([{TOKEN_CHARS}]+)(?:[ \\t]*=[ \\t]*("{_QUOTED_BODY}"|[^\\s;,"<>=]+))?'
)
# The fast path of `parse_params`: a run of parameters that is the whole rest of the value and
# holds only characters no delimiter or LWS of the regex can be (plain ASCII, no `"`, `,`,
# `<`, `>`, whitespace or controls), so splitting at `;` and `=` reads what the regex reads.
_PARAM_FAST_UNSAFE_RE: Final = re.compile(r"[^\x21\x23-\x2b\x2d-\x3b\x3d\x3f-\x7e]")
_TOKEN_CHAR_STRING: Final = string.ascii_letters + string.digits + "-.!%*_+`'~"
_BAD_ESCAPE_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ESCAPE_RUN_RE: Final = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def is_token(text: str) -> bool:
    return TOKEN_RE.fullmatch(text) is not None


def quote(text: str) -> str:
    """Write `text` as a quoted-string, escaping what qdtext cannot hold.

    CR and LF cannot be carried by a quoted-pair at all (RFC 3261 §25.1), so they become SP.
    """
    if "\r" in text or "\n" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    if _NEEDS_QUOTED_PAIR_RE.search(text):
        text = _NEEDS_QUOTED_PAIR_RE.sub(lambda m: "\\" + m.group(0), text)
    return f'"{text}"'


def unquote_body(body: str) -> str:
    """Resolve the quoted-pairs of a quoted-string's content (quotes already stripped)."""
    if "\\" not in body:
        return body
    return _QUOTED_PAIR_RE.sub(r"\1", body)


def unquote(value: str) -> str:
    """A parameter value without its quotes, if it is a quoted-string; unchanged otherwise."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return unquote_body(value[1:-1])
    return value


def skip_lws(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in LWS:
        pos += 1
    return pos


# ---------------------------------------------------------------------------- escapes


def unescape(text: str) -> str:
    """Decode %XX escapes (RFC 3261 §19.1.2); a `%` not followed by two hex digits is an error.

    Escaped octets are UTF-8; octets that are not valid UTF-8 decode to lone surrogates so
    that `escape` writes back exactly the same octets.
    """
    if "%" not in text:
        return text
    if _BAD_ESCAPE_RE.search(text):
        raise SipParseError(f"bad %-escape in {text!r}")
    return _ESCAPE_RUN_RE.sub(_decode_escape_run, text)


def _decode_escape_run(match: re.Match[str]) -> str:
    run = match.group(0)
    return bytes.fromhex(run.replace("%", "")).decode("utf-8", "surrogateescape")


def make_escaper(safe_chars: str) -> re.Pattern[str]:
    """A pattern matching one character that must be escaped when not in `safe_chars`."""
    return re.compile(f"[^{safe_chars}]")


def escape(text: str, unsafe: re.Pattern[str]) -> str:
    """Percent-escape the characters of `text` that `unsafe` matches, as UTF-8 octets."""
    if unsafe.search(text) is None:
        return text
    return unsafe.sub(_encode_char, text)


def _encode_char(match: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in match.group(0).encode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------------------- parameters


class Params(Mapping[str, str | None]):
    """An immutable `;name=value` parameter list.

    Names are case-insensitive (RFC 3261 §7.3.1) and kept in lower case; a flag parameter
    (`;lr`) maps to None. Values are kept as written: a quoted value keeps its quotes (use
    `unquote`), a URI parameter value is already unescaped. Equality ignores order, as the
    RFC comparison rules do; serialisation keeps it.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str | None] | Iterable[tuple[str, str | None]] = ()):
        self._items: dict[str, str | None] = dict(items)

    @classmethod
    def adopt(cls, items: dict[str, str | None]) -> Params:
        """Wrap a dict the caller built and will not touch again (no copy: the parsers' path)."""
        params = cls.__new__(cls)
        params._items = items
        return params

    def __getitem__(self, name: str) -> str | None:
        return self._items[name]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self._items.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Params):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._items == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"Params({self._items!r})"

    def items_copy(self) -> dict[str, str | None]:
        """A new dict of the parameters, in order (to build a changed copy with `adopt`)."""
        return dict(self._items)

    def with_param(self, name: str, value: str | None = None) -> Params:
        """A copy with `name` set (replacing an existing value in place)."""
        items = dict(self._items)
        items[name.lower()] = value
        return Params(items)

    def without(self, *names: str) -> Params:
        drop = {n.lower() for n in names}
        return Params((k, v) for k, v in self._items.items() if k not in drop)

    def to_text(self) -> str:
        """`;name=value;flag` for a header; values written as stored."""
        return "".join([f";{k}" if v is None else f";{k}={v}" for k, v in self._items.items()])


EMPTY_PARAMS: Final = Params()


def parse_params(text: str, pos: int) -> tuple[Params, int]:
    """Read `;name[=value]` pairs from `pos`; returns the parameters and where reading stopped.

    The caller decides what may follow (end of value, `,`, `>` ...). A repeated name keeps its
    first value: later ones cannot silently override a branch or a tag.
    """
    if text.startswith(";", pos) and _PARAM_FAST_UNSAFE_RE.search(text, pos) is None:
        fast = _parse_plain_params(text[pos + 1 :])
        if fast is not None:
            return fast, len(text)
    match = _PARAM_RE.match(text, pos)
    if match is None:
        return EMPTY_PARAMS, pos
    items: dict[str, str | None] = {}
    while match is not None:
        name = match.group(1).lower()
        if name not in items:
            items[name] = match.group(2)
        pos = match.end()
        match = _PARAM_RE.match(text, pos)
    return Params.adopt(items), pos


def _parse_plain_params(rest: str) -> Params | None:
    """`name[=value];...` (after the first `;`) by splitting, or None to let the regex decide.

    Called only when `rest` holds no character that could end a parameter run early, so the
    regex would read the same pairs; any other doubt (an empty piece, a non-token name, an
    empty value, a second `=`) goes back to the regex, which keeps its exact behaviour.
    """
    items: dict[str, str | None] = {}
    for piece in rest.split(";"):
        name, eq, value = piece.partition("=")
        if not name or name.strip(_TOKEN_CHAR_STRING):
            return None
        if eq and (not value or "=" in value):
            return None
        name = name.lower()
        if name not in items:
            items[name] = value if eq else None
    return Params.adopt(items)


def expect_end(text: str, pos: int, what: str) -> None:
    """Raise unless only LWS remains after `pos`."""
    if skip_lws(text, pos) != len(text):
        raise SipParseError(f"unexpected {text[pos:][:40]!r} in {what}")


def split_list(text: str) -> list[str]:
    """Split a comma-separated header value at the commas outside quotes and <...>.

    For headers without a dedicated parser (Accept, Allow, ...); the typed parsers for
    addresses and Via scan the list themselves.
    """
    if "," not in text:
        stripped = text.strip(LWS)
        return [stripped] if stripped else []
    parts: list[str] = []
    depth = 0
    in_quotes = False
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if in_quotes:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quotes = False
        elif c == '"':
            in_quotes = True
        elif c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            parts.append(text[start:i].strip(LWS))
            start = i + 1
        i += 1
    parts.append(text[start:].strip(LWS))
    return [p for p in parts if p]
