"""Personal contacts (个人通讯录, DIR-7): each user's own, visible to nobody else, searchable
by their owner alongside colleagues. Created one by one or imported from vCard or CSV files.

Imports keep what is valid and report the rest by card or row: a phone's address book is the
owner's own, and half of it is better than none of it.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import delete, func, select

from zongji.audit.service import Target
from zongji.directory.events import ContactsChanged
from zongji.directory.journal import Journal
from zongji.directory.models import Enterprise, Favourite, PersonalContact
from zongji.directory.pinyin import spell
from zongji.directory.schemas import Input
from zongji.directory.user_schemas import Email, Name, Text64, Text256
from zongji.directory.vcard import VCardError, parse
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import Database, TenantScope
from zongji.platform.errors import FieldError, Problem, not_found
from zongji.platform.events import EventBus
from zongji.platform.phone import InvalidNumber, to_e164
from zongji.platform.uow import UnitOfWork

MAX_CONTACTS = 5000
MAX_FILE_BYTES = 5 * 1024 * 1024

CSV_COLUMNS = {
    "name": ("姓名", "name", "名字", "full name"),
    "phones": ("电话", "手机", "手机号码", "phone", "mobile", "telephone"),
    "email": ("邮箱", "电子邮件", "email", "e-mail"),
    "company": ("公司", "单位", "company", "organization"),
    "title": ("职务", "职位", "title"),
    "note": ("备注", "note", "notes"),
}


class ContactIn(Input):
    name: Name
    phones: list[str] = Field(default_factory=list, max_length=5)
    email: Email = None
    company: Text256 = None
    title: Text64 = None
    note: Text256 = None

    @field_validator("phones")
    @classmethod
    def _phones(cls, values: list[str]) -> list[str]:
        out = []
        for raw in values:
            if raw.strip():
                try:
                    number = to_e164(raw)
                except InvalidNumber as exc:
                    raise ValueError(f"not a phone number: {raw}") from exc
                if number not in out:
                    out.append(number)
        return out


class ContactOut(BaseModel):
    id: uuid.UUID
    name: str
    pinyin: str
    phones: list[str]
    email: str | None
    company: str | None
    title: str | None
    note: str | None
    created_at: datetime
    updated_at: datetime


class ContactImportResult(BaseModel):
    imported: int
    errors: list[dict[str, object]]


def contact_out(c: PersonalContact) -> ContactOut:
    return ContactOut(
        id=c.id,
        name=c.name,
        pinyin=c.sort_key.split("\x01", 1)[0],
        phones=list(c.phones),
        email=c.email,
        company=c.company,
        title=c.title,
        note=c.note,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def _fill(contact: PersonalContact, data: ContactIn, now: datetime) -> None:
    if contact.name != data.name or not contact.sort_key:
        spelling = spell(data.name)
        contact.name_readings, contact.sort_key = spelling.readings, spelling.sort_key
    contact.name, contact.phones = data.name, list(data.phones)
    contact.email, contact.company, contact.title, contact.note = (
        data.email,
        data.company,
        data.title,
        data.note,
    )
    contact.updated_at = now


def _decode(data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise Problem(413, "file_too_large", "The file is larger than 5 MB.", "文件不能超过 5 MB。")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Problem(
        400, "unreadable_file", "The file is not UTF-8 or GB18030 text.", "文件编码无法识别。"
    )


class PersonalContacts:
    def __init__(self, db: Database, bus: EventBus, clock: Clock, journal: Journal) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._journal = journal

    async def all(self, tenant_id: uuid.UUID, owner_id: uuid.UUID) -> list[ContactOut]:
        async with self._db.session(TenantScope(tenant_id)) as session:
            rows = await session.scalars(
                select(PersonalContact)
                .where(PersonalContact.owner_id == owner_id)
                .order_by(PersonalContact.sort_key, PersonalContact.id)
            )
            return [contact_out(c) for c in rows.all()]

    async def create(
        self, actor: Actor, tenant_id: uuid.UUID, owner_id: uuid.UUID, data: ContactIn
    ) -> ContactOut:
        [contact] = await self._add(actor, tenant_id, owner_id, [data], "contact.create")
        return contact

    async def _add(
        self,
        actor: Actor,
        tenant_id: uuid.UUID,
        owner_id: uuid.UUID,
        items: list[ContactIn],
        action: str,
    ) -> list[ContactOut]:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            count = int(
                await uow.session.scalar(
                    select(func.count())
                    .select_from(PersonalContact)
                    .where(PersonalContact.owner_id == owner_id)
                )
                or 0
            )
            if count + len(items) > MAX_CONTACTS:
                raise Problem(
                    409,
                    "too_many_contacts",
                    f"At most {MAX_CONTACTS} personal contacts.",
                    f"个人通讯录最多 {MAX_CONTACTS} 人。",
                )
            now = self._clock.now()
            made = []
            for data in items:
                contact = PersonalContact(owner_id=owner_id, phones=[], created_at=now)
                _fill(contact, data, now)
                made.append(contact)
            uow.session.add_all(made)
            await uow.session.flush()
            label = made[0].name if len(made) == 1 else f"{len(made)}"
            await self._journal.note(
                uow,
                actor,
                action,
                Target("contact", str(made[0].id) if len(made) == 1 else None, label),
                tenant_id,
                event=ContactsChanged(tenant_id=tenant_id, owner_id=owner_id, action=action),
                summary={"count": len(made)},
            )
            return [contact_out(c) for c in made]

    async def change(
        self,
        actor: Actor,
        tenant_id: uuid.UUID,
        owner_id: uuid.UUID,
        contact_id: uuid.UUID,
        data: ContactIn,
    ) -> ContactOut:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            contact = await uow.session.get(PersonalContact, contact_id)
            if contact is None or contact.owner_id != owner_id:
                raise not_found("Contact", "联系人")
            _fill(contact, data, self._clock.now())
            await self._journal.note(
                uow,
                actor,
                "contact.change",
                Target("contact", str(contact.id), contact.name),
                tenant_id,
                event=ContactsChanged(
                    tenant_id=tenant_id, owner_id=owner_id, action="contact.change"
                ),
            )
            return contact_out(contact)

    async def delete(
        self, actor: Actor, tenant_id: uuid.UUID, owner_id: uuid.UUID, contact_id: uuid.UUID
    ) -> None:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            contact = await uow.session.get(PersonalContact, contact_id)
            if contact is None or contact.owner_id != owner_id:
                raise not_found("Contact", "联系人")
            await uow.session.execute(delete(Favourite).where(Favourite.target_id == contact.id))
            await uow.session.delete(contact)
            await self._journal.note(
                uow,
                actor,
                "contact.delete",
                Target("contact", str(contact.id), contact.name),
                tenant_id,
                event=ContactsChanged(
                    tenant_id=tenant_id, owner_id=owner_id, action="contact.delete"
                ),
            )

    async def import_file(
        self, actor: Actor, tenant_id: uuid.UUID, owner_id: uuid.UUID, filename: str, data: bytes
    ) -> ContactImportResult:
        """vCard (`.vcf`) or CSV with a header row (姓名, 电话 …). Valid entries are kept."""
        text = _decode(data)
        async with self._db.session(TenantScope(tenant_id)) as session:
            ent = await session.get(Enterprise, tenant_id)
        area = ent.area_code if ent else None
        is_vcard = filename.lower().endswith(
            (".vcf", ".vcard")
        ) or text.lstrip().upper().startswith("BEGIN:VCARD")
        entries = self._vcard_entries(text) if is_vcard else self._csv_entries(text)
        valid: list[ContactIn] = []
        errors: list[dict[str, object]] = []
        for where, fields in entries:
            phones = fields.get("phones")
            numbers = phones if isinstance(phones, list) else []
            fields["phones"] = [_local(str(p), area) for p in numbers]
            try:
                valid.append(ContactIn.model_validate(fields))
            except ValidationError as exc:
                errors.append(
                    {
                        "at": where,
                        "errors": [
                            {"field": ".".join(str(x) for x in e["loc"]), "message": e["msg"]}
                            for e in exc.errors()
                        ],
                    }
                )
        if not valid:
            if errors:
                raise FieldError(
                    [
                        {
                            "field": "file",
                            "code": "no_valid_contacts",
                            "message": "No valid contact in the file.",
                            "message_zh": "文件中没有有效的联系人。",
                            "rows": errors[:100],
                        }
                    ]
                )
            return ContactImportResult(imported=0, errors=[])
        await self._add(actor, tenant_id, owner_id, valid, "contact.import")
        return ContactImportResult(imported=len(valid), errors=errors[:1000])

    @staticmethod
    def _vcard_entries(text: str) -> list[tuple[str, dict[str, object]]]:
        try:
            cards = parse(text)
        except VCardError as exc:
            raise Problem(
                400, "invalid_vcard", f"Not a readable vCard file: {exc}.", "vCard 文件无法读取。"
            ) from exc
        return [
            (
                f"line {c.line}",
                {
                    "name": c.name,
                    "phones": c.phones[:5],
                    "email": c.email,
                    "company": c.company,
                    "title": c.title,
                    "note": c.note,
                },
            )
            for c in cards
        ]

    @staticmethod
    def _csv_entries(text: str) -> list[tuple[str, dict[str, object]]]:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header:
            return []
        columns: dict[int, str] = {}
        for i, title in enumerate(header):
            key = title.strip().lower()
            for field_name, names in CSV_COLUMNS.items():
                if key in names:
                    columns[i] = field_name
        if "name" not in columns.values():
            raise Problem(
                400,
                "missing_column",
                "The CSV needs a 姓名 (name) column.",
                "CSV 文件须有“姓名”列。",
            )
        out: list[tuple[str, dict[str, object]]] = []
        for number, row in enumerate(reader, start=2):
            if number > MAX_CONTACTS + 1:
                raise Problem(
                    413,
                    "too_many_rows",
                    f"At most {MAX_CONTACTS} contacts per file.",
                    f"每个文件最多 {MAX_CONTACTS} 人。",
                )
            if not any(cell.strip() for cell in row):
                continue
            phones: list[str] = []
            fields: dict[str, object] = {"phones": phones}
            for i, cell in enumerate(row):
                name = columns.get(i)
                if name == "phones":
                    phones += [p for p in cell.replace("；", ";").split(";") if p.strip()]
                elif name is not None and cell.strip():
                    fields[name] = cell
            out.append((f"row {number}", fields))
        return out


def _local(raw: str, area: str | None) -> str:
    """Address books hold local landlines too: complete them with the enterprise's area code."""
    try:
        return to_e164(raw, area_code=area)
    except InvalidNumber:
        return raw
