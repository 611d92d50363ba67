"""The header section of a SIP message: ordered fields, raw values, typed views on demand.

Values are kept as received (after unfolding) and parsed only when something asks for them;
a parsed view is cached until that header is changed. Most fields of a request are never read
by the stack (User-Agent, Allow, Supported, unknown extensions...), so parsing them eagerly would
be wasted work on the hot path, and keeping them verbatim means a forwarded message says
exactly what the peer said.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Final, TypeVar

from zongji.sip.errors import SipParseError
from zongji.sip.grammar import TOKEN_RE

T = TypeVar("T")

# Compact forms (RFC 3261 §7.3.3 and the RFCs that registered later ones).
COMPACT_FORMS: Final[dict[str, str]] = {
    "a": "accept-contact",
    "b": "referred-by",
    "c": "content-type",
    "d": "request-disposition",
    "e": "content-encoding",
    "f": "from",
    "i": "call-id",
    "j": "reject-contact",
    "k": "supported",
    "l": "content-length",
    "m": "contact",
    "n": "identity-info",
    "o": "event",
    "r": "refer-to",
    "s": "subject",
    "t": "to",
    "u": "allow-events",
    "v": "via",
    "x": "session-expires",
    "y": "identity",
}

# How we write the names we know; unknown names are written as they were received.
_CANONICAL_NAMES: Final[tuple[str, ...]] = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "Identity",
    "Identity-Info", "In-Reply-To", "Max-Forwards", "MIME-Version", "Min-Expires", "Min-SE",
    "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "Path", "Priority", "Privacy",
    "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck", "Reason",
    "Record-Route", "Refer-To", "Referred-By", "Reject-Contact", "Replaces", "Reply-To",
    "Request-Disposition", "Require", "Retry-After", "Route", "RSeq", "Server",
    "Service-Route", "Session-Expires", "SIP-ETag", "SIP-If-Match", "Subject",
    "Subscription-State", "Supported", "Timestamp", "To", "Unsupported", "User-Agent", "Via",
    "Warning", "WWW-Authenticate",
)  # fmt: skip
CANONICAL_NAMES: Final[dict[str, str]] = {name.lower(): name for name in _CANONICAL_NAMES}

# Name as written -> (key, display name). Bounded, since peers choose the names.
_NAME_CACHE: dict[str, tuple[str, str]] = {}
_NAME_CACHE_LIMIT: Final = 4096
_MISSING: Final = object()


def header_key(name: str) -> str:
    """The lookup key of a header name: lower case, compact form expanded."""
    lower = name.lower()
    return COMPACT_FORMS.get(lower, lower)


def resolve_name(name: str) -> tuple[str, str]:
    """(key, name to write) for a header name as received; raises if it is not a token."""
    cached = _NAME_CACHE.get(name)
    if cached is not None:
        return cached
    if TOKEN_RE.fullmatch(name) is None:
        raise SipParseError(f"malformed header name {name[:40]!r}")
    key = header_key(name)
    resolved = (key, CANONICAL_NAMES.get(key, name))
    if len(_NAME_CACHE) < _NAME_CACHE_LIMIT:
        _NAME_CACHE[name] = resolved
    return resolved


_NO_VALUES: Final[list[str]] = []


class Headers:
    """Ordered header fields as `(key, name, value)`; lookups by any spelling of the name.

    Lookups go through an index (key -> values) built on first use and dropped on any change,
    so reading a dozen fields of a message costs one pass over it, not a dozen.
    Content-Length is not stored: the body is the truth, and `Message.encode` writes it.
    """

    __slots__ = ("_cache", "_fields", "_index")

    def __init__(self, fields: Iterable[tuple[str, object]] = ()) -> None:
        self._fields: list[tuple[str, str, str]] = []
        self._cache: dict[str, object] | None = None
        self._index: dict[str, list[str]] | None = None
        for name, value in fields:
            self.add(name, value)

    @classmethod
    def from_parsed(
        cls,
        fields: list[tuple[str, str, str]],
        index: dict[str, list[str]] | None = None,
    ) -> Headers:
        """Adopt fields the parser already resolved and checked (no copy, no validation).

        `index`, if given, is the key -> values map of exactly these fields, built by the
        caller in its own pass over them; it is adopted too and dropped on the first change.
        """
        headers = cls.__new__(cls)
        headers._fields = fields
        headers._cache = None
        headers._index = index
        return headers

    def _values(self, key: str) -> list[str]:
        index = self._index
        if index is None:
            index = {}
            for k, _, value in self._fields:
                values = index.get(k)
                if values is None:
                    index[k] = [value]
                else:
                    values.append(value)
            self._index = index
        return index.get(key, _NO_VALUES)

    def _changed(self, key: str) -> None:
        self._index = None
        if self._cache is not None:
            self._cache.pop(key, None)

    # -- reading

    def get(self, name: str) -> str | None:
        """The first value of a header, or None."""
        values = self._values(header_key(name))
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        """Every value of a header, in order (one entry per header line)."""
        return list(self._values(header_key(name)))

    def count(self, name: str) -> int:
        return len(self._values(header_key(name)))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return bool(self._values(header_key(name)))

    def has(self, key: str) -> bool:
        """Whether a field with lookup key `key` (lower case, compact form expanded) is present:
        `in` for callers that already hold the key, without normalising the name again."""
        return bool(self._values(key))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """(name as written, value) pairs in order."""
        for _, name, value in self._fields:
            yield name, value

    def __len__(self) -> int:
        return len(self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k, v) for k, _, v in self._fields] == [(k, v) for k, _, v in other._fields]

    def __repr__(self) -> str:
        return f"Headers({[(n, v) for _, n, v in self._fields]!r})"

    def copy(self) -> Headers:
        return Headers.from_parsed(list(self._fields))

    def parsed(self, key: str, parser: Callable[[list[str]], T]) -> T:
        """A typed view of header `key` (already a lookup key), parsed once and cached."""
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        else:
            value = cache.get(key, _MISSING)
            if value is not _MISSING:
                return value  # type: ignore[return-value]
        parsed = parser(self._values(key))
        cache[key] = parsed
        return parsed

    def seed_parsed(self, key: str, value: object) -> None:
        """Store a typed view computed by the caller (after it rewrote that header itself)."""
        if self._cache is None:
            self._cache = {}
        self._cache[key] = value

    # -- writing

    def _entry(self, name: str, value: object) -> tuple[str, str, str]:
        # Every header of every message the stack builds passes here: the name cache and
        # `_changed` are inlined.
        resolved = _NAME_CACHE.get(name)
        key, written = resolved if resolved is not None else resolve_name(name)
        if key == "content-length":
            raise ValueError("Content-Length is written from the body; do not set it")
        text = value if type(value) is str else str(value)
        if "\r" in text or "\n" in text:
            raise ValueError(f"header value for {name} contains CR or LF")
        self._index = None
        cache = self._cache
        if cache is not None:
            cache.pop(key, None)
        return key, written, text

    def add(self, name: str, value: object, *, first: bool = False) -> None:
        """Append a field (or put it before all others, as a new top Via or Route)."""
        entry = self._entry(name, value)
        if first:
            self._fields.insert(0, entry)
        else:
            self._fields.append(entry)

    def set(self, name: str, value: object) -> None:
        """Replace every field of this name with one, at the position of the first."""
        entry = self._entry(name, value)
        key = entry[0]
        for i, (k, _, _) in enumerate(self._fields):
            if k == key:
                self._fields[i] = entry
                self._fields[i + 1 :] = [f for f in self._fields[i + 1 :] if f[0] != key]
                return
        self._fields.append(entry)

    def set_default(self, name: str, value: object) -> None:
        """Add the field unless one of this name is present."""
        if name not in self:
            self.add(name, value)

    def remove(self, name: str) -> int:
        """Drop every field of this name; returns how many were dropped."""
        key = header_key(name)
        before = len(self._fields)
        self._fields = [f for f in self._fields if f[0] != key]
        self._changed(key)
        return before - len(self._fields)

    def replace_first(self, name: str, value: object) -> None:
        """Replace the first field of this name (e.g. the top Via); add it if absent."""
        index = self._index
        entry = self._entry(name, value)  # drops the index and this key's parsed view
        key = entry[0]
        for i, (k, _, _) in enumerate(self._fields):
            if k == key:
                self._fields[i] = entry
                if index is not None:
                    # The first value of `key` is this field's: patch the index rather than
                    # rebuild it (a received request's top Via is rewritten every time).
                    index[key][0] = entry[2]
                    self._index = index
                return
        self._fields.append(entry)

    def pop_first(self, name: str) -> str | None:
        """Remove and return the first field of this name (e.g. the top Route)."""
        key = header_key(name)
        for i, (k, _, value) in enumerate(self._fields):
            if k == key:
                del self._fields[i]
                self._changed(key)
                return value
        return None

    def copy_from(self, other: Headers, keys: frozenset[str]) -> None:
        """Append the fields of `other` whose lookup keys are in `keys`, verbatim, in order
        (for building responses)."""
        self._fields.extend([f for f in other._fields if f[0] in keys])
        self._index = None
        if self._cache is not None:
            for key in keys:
                self._cache.pop(key, None)

    def write(self, out: list[str]) -> None:
        """Append `Name: value\\r\\n` lines to `out`."""
        for _, name, value in self._fields:
            out.append(f"{name}: {value}\r\n")
