"""Reading vCards (RFC 6350, and the 2.1/3.0 files phones still export) into plain contacts.

Only what a personal contact keeps is read: the formatted name (or N), telephone numbers, e-mail,
organisation, title and note. Folded lines are unfolded; QUOTED-PRINTABLE values (vCard 2.1 from
older Android phones, which is how Chinese names often arrive) are decoded with their CHARSET.
"""

from __future__ import annotations

import quopri
import re
from dataclasses import dataclass, field

MAX_CARDS = 5000
MAX_LINE = 10_000


@dataclass
class Card:
    line: int  # where the card begins, for error messages
    name: str = ""
    phones: list[str] = field(default_factory=list)
    email: str | None = None
    company: str | None = None
    title: str | None = None
    note: str | None = None


class VCardError(ValueError):
    pass


def _unfold(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if len(raw) > MAX_LINE:
            raise VCardError(f"line {number} is too long")
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] = (lines[-1][0], lines[-1][1] + raw[1:])
        elif lines and lines[-1][1].endswith("=") and "QUOTED-PRINTABLE" in lines[-1][1].upper():
            lines[-1] = (lines[-1][0], lines[-1][1][:-1] + raw)  # QP soft line break
        else:
            lines.append((number, raw))
    return lines


def _value(params: list[str], value: str) -> str:
    upper = [p.upper() for p in params]
    if "ENCODING=QUOTED-PRINTABLE" in upper or "QUOTED-PRINTABLE" in upper:
        charset = next(
            (p.split("=", 1)[1] for p in params if p.upper().startswith("CHARSET=")), "utf-8"
        )
        try:
            return quopri.decodestring(value.encode("ascii", "replace")).decode(charset, "replace")
        except LookupError:
            return quopri.decodestring(value.encode("ascii", "replace")).decode("utf-8", "replace")
    return re.sub(r"\\([,;\\nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def parse(text: str) -> list[Card]:
    cards: list[Card] = []
    current: Card | None = None
    structured_name = ""
    for number, line in _unfold(text):
        if not line.strip():
            continue
        head, sep, value = line.partition(":")
        if not sep:
            continue
        name, *params = head.split(";")
        name = name.split(".")[-1].upper()  # item1.TEL → TEL
        if name == "BEGIN" and value.strip().upper() == "VCARD":
            current, structured_name = Card(number), ""
            continue
        if current is None:
            continue
        value = _value(params, value).strip()
        if name == "END":
            if not current.name and structured_name:
                current.name = structured_name
            cards.append(current)
            if len(cards) > MAX_CARDS:
                raise VCardError(f"more than {MAX_CARDS} contacts")
            current = None
        elif name == "FN":
            current.name = value
        elif name == "N":
            parts = [p.strip() for p in value.split(";")]
            family, given = ([*parts, "", ""])[:2]
            # Chinese order: family name first, no space; Latin names: given name first.
            joined = (
                family + given
                if re.search(r"[\u4e00-\u9fff]", family + given)
                else f"{given} {family}"
            )
            structured_name = joined.strip()
        elif name == "TEL" and value:
            current.phones.append(value)
        elif name == "EMAIL" and value and current.email is None:
            current.email = value
        elif name == "ORG" and value:
            current.company = value.split(";")[0].strip() or None
        elif name == "TITLE" and value:
            current.title = value
        elif name == "NOTE" and value:
            current.note = value
    return cards
