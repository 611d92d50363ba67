"""Search as the API serves it: an enterprise's index kept current, plus the searcher's own
favourites and personal contacts.

Each node keeps one `NameIndex` per enterprise, built from the database on first use. It stays
current through the change feed, which is the source of truth on every node: before answering, a
search reads the feed's head (one indexed query) and, if the index is behind, loads the people
changed since into an *overlay* that hides their old entries. `DirectoryChanged` events make a
node catch up at once, before anyone searches; a node that missed events (or runs beside others
with no shared bus) still answers correctly, because the head check does not depend on them. When
the overlay grows past a few percent of the enterprise, the index is rebuilt in the background
and swapped in.

Personal contacts and favourites are private and small; they are cached per user and re-read
when their fingerprint (count, latest change) moves.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel
from sqlalchemy import func, select

from zongji.directory.changes import ChangeFeed
from zongji.directory.events import DirectoryChanged
from zongji.directory.models import DirectoryChange, Favourite, PersonalContact, PoolNumber, User
from zongji.directory.pinyin import decode
from zongji.directory.search.index import Entry, Hit, NameIndex
from zongji.directory.search.query import parse
from zongji.directory.search.spelling import Match, national
from zongji.platform.db import Database, TenantScope
from zongji.platform.events import EventBus

log = logging.getLogger(__name__)

REBUILD_MIN = 500  # overlay size that triggers a rebuild, at least …
REBUILD_SHARE = 0.05  # … or this share of the enterprise
OVERLAY_IN_THREAD = 200  # changed people from which their index is built in a worker thread
PRIVATE_CACHE = 10_000  # users whose contacts and favourites are kept
FREEZE_AT = 10_000  # people in an index from which its objects are kept out of the cyclic GC


class SearchHitOut(BaseModel):
    kind: str  # "user" or "contact"
    id: uuid.UUID
    name: str
    match: str  # exact, prefix or fuzzy
    favourite: bool
    extension: str | None = None
    mobile: str | None = None
    direct_line: str | None = None
    title: str | None = None
    department_id: uuid.UUID | None = None
    phones: list[str] = []


class SearchResult(BaseModel):
    query: str
    items: list[SearchHitOut]


def _order(pinned: bool, pin_order: int, sort_key: str, ident: uuid.UUID) -> tuple[Any, ...]:
    return (not pinned, pin_order, sort_key, str(ident))


_USER_COLUMNS = (
    User.id, User.name, User.name_readings, User.extension, User.mobile, User.phone, User.title,
    User.department_id, User.pinned, User.pin_order, User.sort_key, PoolNumber.number,
)  # fmt: skip


def _user_entry(row: Any) -> Entry:
    (ident, name, readings, extension, mobile, phone, title, dept, pinned, pin_order, key, line) = (
        row
    )
    numbers = tuple(national(n) for n in (mobile, line, phone) if n)
    return Entry(
        id=ident,
        name=name,
        tokens=tuple(decode(readings)),
        extension=extension,
        numbers=numbers,
        order=_order(pinned, pin_order, key, ident),
        info={"mobile": mobile, "direct_line": line, "title": title, "department_id": dept},
    )


def _contact_entry(c: PersonalContact) -> Entry:
    return Entry(
        id=c.id,
        name=c.name,
        tokens=tuple(decode(c.name_readings)),
        extension=None,
        numbers=tuple(national(p) for p in c.phones),
        order=(True, 0, c.sort_key, str(c.id)),
        info={"phones": list(c.phones), "title": c.title},
    )


@dataclass
class TenantIndex:
    """An enterprise's index: `base` as built from the database, and on top of it the people
    changed since (`changed`: their current entry, None once deleted), whose base entries are
    `hidden`. The changed people are searched through a `NameIndex` of their own (`overlay`), the
    same code as the base, so that a person is found by the same queries, ranked the same way,
    whether they changed a moment ago or the index was built after the change."""

    base: NameIndex
    cursor: int  # feed head the index (with its overlay) reflects
    changed: dict[uuid.UUID, Entry | None] = field(default_factory=dict)
    overlay: NameIndex = field(default_factory=lambda: NameIndex([]))
    hidden: np.ndarray[Any, np.dtype[np.bool_]] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    rebuilding: bool = False

    def entry(self, ident: uuid.UUID) -> Entry | None:
        """The current entry of a person, wherever it is."""
        if ident in self.changed:
            return self.changed[ident]
        rank = self.base.by_id.get(ident)
        return None if rank is None else self.base.entries[rank]

    def hide(self, ident: uuid.UUID) -> None:
        rank = self.base.by_id.get(ident)
        if rank is not None:
            if self.hidden is None:
                self.hidden = np.zeros(len(self.base), dtype=np.bool_)
            self.hidden[rank] = True


@dataclass
class _Private:
    fingerprint: tuple[Any, ...]
    contacts: NameIndex
    favourites: set[uuid.UUID]


class DirectorySearch:
    def __init__(self, db: Database, bus: EventBus, feed: ChangeFeed) -> None:
        self._db = db
        self._feed = feed
        self._tenants: dict[uuid.UUID, TenantIndex] = {}
        self._building: dict[uuid.UUID, asyncio.Lock] = {}
        self._private: dict[uuid.UUID, _Private] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        bus.subscribe(DirectoryChanged, self._on_change)

    # -- keeping current -----------------------------------------------------------------------

    async def _on_change(self, event: DirectoryChanged) -> None:
        if event.tenant_id in self._tenants:
            await self.index_of(event.tenant_id)

    async def _load(self, tenant_id: uuid.UUID) -> TenantIndex:
        head = await self._feed.head(tenant_id)  # before reading: later changes replay on top
        async with self._db.session(TenantScope(tenant_id)) as session:
            rows = (
                await session.execute(
                    select(*_USER_COLUMNS).outerjoin(PoolNumber, PoolNumber.user_id == User.id)
                )
            ).all()
        base = await asyncio.to_thread(lambda: NameIndex([_user_entry(r) for r in rows]))
        if len(base) >= FREEZE_AT:
            # A large index is a million long-lived objects; left to the cyclic collector, every
            # full collection walks them all (tens of ms, the p99 of a search). They hold no
            # cycles and are freed by reference counting when the index is replaced. Collect
            # first, so no garbage that exists now is frozen with them.
            gc.collect()
            gc.freeze()
        return TenantIndex(base, head)

    async def index_of(self, tenant_id: uuid.UUID) -> TenantIndex:
        """The enterprise's index, caught up with its change feed."""
        index = self._tenants.get(tenant_id)
        if index is None:
            lock = self._building.setdefault(tenant_id, asyncio.Lock())
            async with lock:
                index = self._tenants.get(tenant_id)
                if index is None:
                    index = self._tenants[tenant_id] = await self._load(tenant_id)
        head = await self._feed.head(tenant_id)
        if head < index.cursor:
            # The feed went back: the database was restored from a backup. The index holds a
            # directory that is not this one, and catching up would wait for the head to pass
            # the old cursor, so it is built again.
            lock = self._building.setdefault(tenant_id, asyncio.Lock())
            async with lock:
                if self._tenants.get(tenant_id) is index:
                    log.warning("directory feed went back", extra={"tenant": str(tenant_id)})
                    self._tenants[tenant_id] = await self._load(tenant_id)
                index = self._tenants[tenant_id]
            head = await self._feed.head(tenant_id)
        if head > index.cursor:
            async with index.lock:
                if head > index.cursor:
                    await self._catch_up(tenant_id, index, head)
        return index

    async def _catch_up(self, tenant_id: uuid.UUID, index: TenantIndex, head: int) -> None:
        async with self._db.session(TenantScope(tenant_id)) as session:
            changed = (
                await session.scalars(
                    select(DirectoryChange.id).where(
                        DirectoryChange.kind == "user",
                        DirectoryChange.seq > index.cursor,
                        DirectoryChange.seq <= head,
                    )
                )
            ).all()
            rows: list[Any] = []
            for start in range(0, len(changed), 1000):
                rows += (
                    await session.execute(
                        select(*_USER_COLUMNS)
                        .outerjoin(PoolNumber, PoolNumber.user_id == User.id)
                        .where(User.id.in_(changed[start : start + 1000]))
                    )
                ).all()
        present = {r[0]: _user_entry(r) for r in rows}
        for ident in changed:
            index.hide(ident)
            index.changed[ident] = present.get(ident)
        current = [e for e in index.changed.values() if e is not None]
        if len(current) > OVERLAY_IN_THREAD:
            index.overlay = await asyncio.to_thread(NameIndex, current)
        else:
            index.overlay = NameIndex(current)
        index.cursor = head
        if (
            len(index.changed) > max(REBUILD_MIN, REBUILD_SHARE * len(index.base))
            and not index.rebuilding
        ):
            index.rebuilding = True
            task = asyncio.create_task(self._rebuild(tenant_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _rebuild(self, tenant_id: uuid.UUID) -> None:
        try:
            fresh = await self._load(tenant_id)
            self._tenants[tenant_id] = fresh
        except Exception:
            log.exception("directory index rebuild failed", extra={"tenant": str(tenant_id)})
            current = self._tenants.get(tenant_id)
            if current is not None:
                current.rebuilding = False

    def forget(self, tenant_id: uuid.UUID) -> None:
        self._tenants.pop(tenant_id, None)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- private parts -------------------------------------------------------------------------

    async def _private_of(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> _Private:
        async with self._db.session(TenantScope(tenant_id)) as session:
            contacts = (
                await session.execute(
                    select(func.count(), func.max(PersonalContact.updated_at)).where(
                        PersonalContact.owner_id == user_id
                    )
                )
            ).one()
            favourites = (
                await session.execute(
                    select(func.count(), func.max(Favourite.created_at)).where(
                        Favourite.owner_id == user_id
                    )
                )
            ).one()
            fingerprint = (tuple(contacts), tuple(favourites))
            cached = self._private.get(user_id)
            if cached is not None and cached.fingerprint == fingerprint:
                return cached
            rows = (
                await session.scalars(
                    select(PersonalContact).where(PersonalContact.owner_id == user_id)
                )
            ).all()
            favs = set(
                (
                    await session.scalars(
                        select(Favourite.target_id).where(Favourite.owner_id == user_id)
                    )
                ).all()
            )
        private = _Private(fingerprint, NameIndex([_contact_entry(c) for c in rows]), favs)
        if len(self._private) >= PRIVATE_CACHE:
            self._private.pop(next(iter(self._private)))  # forget the oldest
        self._private[user_id] = private
        return private

    # -- the search ----------------------------------------------------------------------------

    async def search(
        self, tenant_id: uuid.UUID, text: str, *, user_id: uuid.UUID | None = None, limit: int = 20
    ) -> SearchResult:
        query = parse(text)
        if query is None:
            return SearchResult(query=text, items=[])
        index = await self.index_of(tenant_id)
        private = await self._private_of(tenant_id, user_id) if user_id else None
        favourites = private.favourites if private else set()
        ranked: list[tuple[tuple[Any, ...], str, Hit]] = []

        def add(kind: str, hit: Hit) -> None:
            ranked.append(
                (
                    (hit.match, hit.entry.id not in favourites, kind == "contact", hit.entry.order),
                    kind,
                    hit,
                )
            )

        for hit in index.base.search(query, limit, index.hidden):
            add("user", hit)
        for hit in index.overlay.search(query, limit):
            add("user", hit)
        for ident in favourites:  # favourites first within their class, wherever they rank
            entry = index.entry(ident)
            if entry is not None and (match := entry.classify(query)) is not None:
                add("user", Hit(match, entry))
        if private is not None:
            for hit in private.contacts.search(query, limit):
                add("contact", hit)
            for ident in favourites:
                rank = private.contacts.by_id.get(ident)
                if rank is not None:
                    entry = private.contacts.entries[rank]
                    if (match := entry.classify(query)) is not None:
                        add("contact", Hit(match, entry))
        ranked.sort(key=lambda item: item[0])
        items: list[SearchHitOut] = []
        seen: set[uuid.UUID] = set()
        for _, kind, hit in ranked:
            if hit.entry.id in seen:
                continue
            seen.add(hit.entry.id)
            items.append(_out(kind, hit, hit.entry.id in favourites))
            if len(items) >= limit:
                break
        return SearchResult(query=text, items=items)


def _out(kind: str, hit: Hit, favourite: bool) -> SearchHitOut:
    entry, info = hit.entry, hit.entry.info
    return SearchHitOut(
        kind=kind,
        id=entry.id,
        name=entry.name,
        match=Match(hit.match).name.lower(),
        favourite=favourite,
        extension=entry.extension,
        mobile=info.get("mobile"),
        direct_line=info.get("direct_line"),
        title=info.get("title"),
        department_id=info.get("department_id"),
        phones=info.get("phones", []),
    )
