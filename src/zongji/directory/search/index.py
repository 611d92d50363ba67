"""An in-memory search index over one set of names: an enterprise's users, or one user's personal
contacts.

Every way of typing each name (see `spelling.forms`) and each number is a key in one sorted NumPy
byte-string array; a query is a prefix range found by binary search. Each key carries its owner's
*rank* (position in directory order: pinned first, then pinyin) and its kind (a complete spelling,
a spelling from the first token, or one from a later token). The owners of a range are gathered
into a bitmap per match class, and the first set bits of a bitmap are the best-ranked matches:
that is O(range + users / 8) with no sort, whatever the number of matches. Phone-number substrings
(fuzzy) are found by scanning one byte string of all numbers laid out in rank order, stopping
as soon as enough owners are found.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from zongji.directory.pinyin import Token
from zongji.directory.search.query import Query
from zongji.directory.search.spelling import Match, classify, classify_number, forms

KEY_WIDTH = 24  # bytes; longer keys are cut, and queries this long are checked one by one
VERIFY_CAP = 20_000  # owners checked one by one at most, for mixed or very long queries
_COMPLETE, _FIRST, _LATER = 0, 1, 2


@dataclass(frozen=True)
class Entry:
    """One searchable person, with what a suggestion shows."""

    id: uuid.UUID
    name: str
    tokens: tuple[Token, ...]
    extension: str | None
    numbers: tuple[str, ...]  # national forms: 13800000001, 02584000001
    order: tuple[Any, ...]  # directory order
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def classify(self, query: Query) -> Match | None:
        found = classify_number(query.text, self.numbers, self.extension) if query.digits else None
        by_name = classify(query.text, self.tokens)  # the matcher reads characters itself
        if by_name is not None and (found is None or by_name < found):
            found = by_name
        return found


@dataclass(frozen=True)
class Hit:
    match: Match
    entry: Entry


def _upper(prefix: bytes) -> bytes:
    """The smallest byte string greater than every string starting with `prefix`."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


class NameIndex:
    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = sorted(entries, key=lambda e: e.order)
        self.by_id = {e.id: rank for rank, e in enumerate(self.entries)}
        keys: list[bytes] = []
        owners: list[int] = []
        kinds: list[int] = []
        segments: list[bytes] = []
        segment_owners: list[int] = []
        for rank, entry in enumerate(self.entries):
            kind_of: dict[bytes, int] = {}  # one key per spelling and owner, its best kind
            for start in range(len(entry.tokens)):
                for form in forms(entry.tokens, start):
                    key = form.spelled.encode()[:KEY_WIDTH]
                    kind = _COMPLETE if form.exact else _FIRST if start == 0 else _LATER
                    if key and kind < kind_of.get(key, _LATER + 1):
                        kind_of[key] = kind
            for key, kind in kind_of.items():
                keys.append(key)
                owners.append(rank)
                kinds.append(kind)
            seen = set(kind_of)
            for number in ((entry.extension,) if entry.extension else ()) + entry.numbers:
                key = number.encode()[:KEY_WIDTH]
                if key not in seen:
                    seen.add(key)
                    keys.append(key)
                    owners.append(rank)
                    kinds.append(_COMPLETE)
            for number in entry.numbers:
                segments.append(number.encode())
                segment_owners.append(rank)
        array = (
            np.array(keys, dtype=f"S{KEY_WIDTH}") if keys else np.array([], dtype=f"S{KEY_WIDTH}")
        )
        order = np.argsort(array, kind="stable")
        self.keys: npt.NDArray[np.bytes_] = array[order]
        self.owners: npt.NDArray[np.int32] = np.array(owners, dtype=np.int32)[order]
        self.kinds: npt.NDArray[np.int8] = np.array(kinds, dtype=np.int8)[order]
        self.blob = b"\n".join(segments) + b"\n"
        starts, position = [], 0
        for segment in segments:
            starts.append(position)
            position += len(segment) + 1
        self.segment_starts: npt.NDArray[np.int64] = np.array(starts, dtype=np.int64)
        self.segment_owners: npt.NDArray[np.int32] = np.array(segment_owners, dtype=np.int32)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def key_count(self) -> int:
        return len(self.keys)

    def search(
        self, query: Query, limit: int, hidden: npt.NDArray[np.bool_] | None = None
    ) -> list[Hit]:
        """The best `limit` matches by (match class, directory order); `hidden` ranks are skipped
        (people changed or deleted since the index was built)."""
        n = len(self.entries)
        if n == 0 or limit <= 0:
            return []
        found = [np.zeros(n, dtype=np.bool_) for _ in Match]
        for spelled in query.spellings:
            self._keys(spelled, query, limit, found, hidden)
        if query.digits and len(query.text) >= 2:
            self._substrings(query.text, limit, found, hidden)
        taken = np.zeros(n, dtype=np.bool_) if hidden is None else hidden.copy()
        hits: list[Hit] = []
        for match in Match:
            bitmap = found[match] & ~taken
            for rank in np.flatnonzero(bitmap)[: limit - len(hits)]:
                hits.append(Hit(match, self.entries[int(rank)]))
            taken |= found[match]
            if len(hits) >= limit:
                break
        return hits

    def _keys(
        self,
        spelled: str,
        query: Query,
        limit: int,
        found: list[npt.NDArray[np.bool_]],
        hidden: npt.NDArray[np.bool_] | None,
    ) -> None:
        raw = spelled.encode()
        prefix = raw[:KEY_WIDTH]
        lo = int(np.searchsorted(self.keys, prefix, side="left"))
        hi = int(np.searchsorted(self.keys, _upper(prefix), side="left"))
        if lo == hi:
            return
        owners, kinds = self.owners[lo:hi], self.kinds[lo:hi]
        equal = int(np.searchsorted(self.keys[lo:hi], prefix, side="right"))
        exact = owners[:equal][kinds[:equal] == _COMPLETE]
        first = owners[kinds != _LATER]
        later = owners[kinds == _LATER]
        if len(raw) < KEY_WIDTH and spelled == query.text:
            found[Match.EXACT][exact] = True
            found[Match.PREFIX][first] = True
            found[Match.FUZZY][later] = True
            return
        # Cut keys, or a mixed query spelled out (张s → zhangs, which 章散 spells too): the range
        # holds candidates, checked one by one (by the same rule, `classify`) in directory order,
        # and only until `limit` matches of the group's class are found, counting those of
        # better classes found before: nothing after them could rank higher. Hidden people are
        # not candidates, so they never use up the limit.
        visible = np.ones(len(self.entries), dtype=np.bool_) if hidden is None else ~hidden
        verdicts: dict[int, Match | None] = {}
        for group, best in ((exact, Match.EXACT), (first, Match.PREFIX), (later, Match.FUZZY)):
            better = sum(int(np.count_nonzero(found[m] & visible)) for m in Match if m < best)
            if better >= limit:
                break
            mark = np.zeros(len(self.entries), dtype=np.bool_)
            mark[group] = True
            mark &= visible
            matched = better
            for rank in np.flatnonzero(mark)[:VERIFY_CAP]:
                rank = int(rank)
                if rank not in verdicts:
                    verdicts[rank] = self.entries[rank].classify(query)
                match = verdicts[rank]
                if match is not None:
                    found[match][rank] = True
                    matched += match == best
                    if matched >= limit:
                        break

    def _substrings(
        self,
        digits: str,
        limit: int,
        found: list[npt.NDArray[np.bool_]],
        hidden: npt.NDArray[np.bool_] | None,
    ) -> None:
        """Numbers containing `digits`, in rank order, until `limit` new owners are found (the
        blob is laid out in rank order, so the first found are the best ranked)."""
        needle = digits.encode()
        already = found[Match.EXACT] | found[Match.PREFIX]
        added, position = 0, 0
        while added < limit:
            position = self.blob.find(needle, position)
            if position < 0:
                return
            segment = int(np.searchsorted(self.segment_starts, position, side="right")) - 1
            rank = int(self.segment_owners[segment])
            if (
                not already[rank]
                and not found[Match.FUZZY][rank]
                and (hidden is None or not hidden[rank])
            ):
                found[Match.FUZZY][rank] = True
                added += 1
            position += 1
