"""The dial plan: what a device dialled, as call routing understands it.

A phone sends a Request-URI user part (or a tel:/sip: URI) typed by a person: `139-1234-5678`,
`(025) 8888 6666`, `＋８６…` from a Chinese input method, `0044…`, or `8001`. This module turns
it into one of three things (`DialKind`), and refuses everything else with a stable code, so
nothing a device sends reaches a trunk except a number we normalised ourselves:

- an **extension**: exactly the enterprise's extension length (`TenantLine.extension_length`);
- an **emergency** code (110, 119, 120, 122): kept as dialled, always routed;
- an **external** number, in E.164, relative to the enterprise's area code: `02588886666`,
  a local `88886666` (the area code is added), `+86…`, `0086…`, `00` international, 400/800,
  mobiles. Numbers `phonenumbers` calls invalid are refused.

Service numbers (95588, 10086, 12345, 114 …; `phonenumbers`' Chinese short-number data) are
external domestic calls: they are kept as `+86` followed by the short number (for example
`+8695588`), which is not a dialable E.164 number on its own but names the service without
ambiguity; `national_form` gives the carrier `95588` back. When such a number has exactly the
extension length it is an extension: the enterprise's extension plan wins (a 5-digit plan
cannot reach 95588; documented in docs/pbx/trunks.md).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final
from urllib.parse import unquote

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, shortnumberinfo

from zongji.pbx.contracts import DialError, DialKind, Dialled, Subscriber, TenantLine
from zongji.platform.phone import (
    EMERGENCY_NUMBERS,
    InvalidNumber,
    clean_digits,
    normalise_area_code,
    to_e164,
)

EMERGENCY_CODES: Final = EMERGENCY_NUMBERS
"""Police, fire, ambulance, traffic accidents: always allowed, sent as dialled (issue 7)."""

MAX_RAW_LENGTH: Final = 64
"""Longer input is refused before any parsing: no number needs it."""

MAX_E164_DIGITS: Final = 15  # ITU-T E.164 §6

_FULL_WIDTH = re.compile(r"[\uff01-\uff5e\u3000]")
_NON_ASCII_SEPARATORS: Final = frozenset("\u00a0\u00b7")  # no-break space, middle dot
_ALLOWED = re.compile(r"\+?[0-9]+")
_SCHEME = re.compile(r"^(sips?|tel):", re.IGNORECASE)


def _ascii_forms(text: str) -> str:
    """Full-width forms (＋, ０-９, （）, －, the ideographic space) become their ASCII twins.

    Only those: NFKC on the whole string would also turn ① or ⁵ into digits, and a dial string
    carrying those is more likely an attack than a typo."""
    return _FULL_WIDTH.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def _user_part(raw: str) -> str:
    """The number inside a `sip:`/`sips:`/`tel:` URI, or `raw` itself; %-escapes decoded.

    RFC 3966 parameters (`;phone-context=…`, `;isub=…`) and URI parameters are dropped: the
    number is all that routing uses."""
    text = raw.strip()
    if _SCHEME.match(text):
        text = _SCHEME.sub("", text, count=1)
        text = text.split("@", 1)[0]
    text = text.split(";", 1)[0]
    return unquote(text)


def parse_dialled(raw: str, tenant: TenantLine) -> Dialled:
    """What `raw` (a Request-URI user part, or a sip:/tel: URI) means for `tenant`.

    Raises `DialError` with code `empty`, `too_long`, `invalid_characters`, `incomplete` (shorter
    than an extension and not a service number) or `invalid_number`."""
    if len(raw) > MAX_RAW_LENGTH:
        raise DialError("too_long", f"a dial string is at most {MAX_RAW_LENGTH} characters")
    text = _ascii_forms(_user_part(raw))
    if any(ord(char) > 0x7F and char not in _NON_ASCII_SEPARATORS for char in text):
        raise DialError("invalid_characters", "only ASCII or full-width digits can be dialled")
    text = clean_digits(text)
    if not text:
        raise DialError("empty", "nothing was dialled")
    if not _ALLOWED.fullmatch(text):
        raise DialError(
            "invalid_characters", "only digits, a leading + and visual separators can be dialled"
        )
    if text in EMERGENCY_CODES:
        return Dialled(DialKind.EMERGENCY, text, raw)
    if not text.startswith("+") and len(text) == tenant.extension_length:
        return Dialled(DialKind.EXTENSION, text, raw)
    return Dialled(DialKind.EXTERNAL, _external(text, tenant), raw)


def _external(text: str, tenant: TenantLine) -> str:
    if len(text.lstrip("+")) > MAX_E164_DIGITS + 2:  # "00" + 15 digits
        raise DialError("too_long", "longer than any phone number")
    service = _service_number(text)
    if service is not None:
        return service
    if not text.startswith(("+", "00")) and len(text) < tenant.extension_length:
        raise DialError("incomplete", "shorter than an extension and not a service number")
    try:
        area = normalise_area_code(tenant.area_code) if tenant.area_code else None
    except InvalidNumber:
        area = None  # a view without an area code: local numbers then fail as invalid below
    try:
        return to_e164(text, area_code=area)
    except InvalidNumber as exc:
        raise DialError("invalid_number", f"not a valid phone number: {text}") from exc


def _service_number(text: str) -> str | None:
    """`+86` + a Chinese short service number (95588, 10086, 114 …), or None."""
    if text.startswith("+") or text.startswith("0") or len(text) > 8:
        return None
    try:
        number = phonenumbers.parse(text, "CN")
    except NumberParseException:
        return None
    if shortnumberinfo.is_valid_short_number_for_region(number, "CN"):
        return "+86" + text
    return None


def is_service_number(e164: str) -> bool:
    """Is this `+86…` a short service number kept by `parse_dialled` (e.g. `+8695588`)?"""
    if not e164.startswith("+86"):
        return False
    return _service_number(e164[3:]) is not None


@functools.lru_cache(maxsize=8192)
def national_form(number: str) -> str:
    """How a carrier that wants national numbers is sent `number` (E.164 or emergency code).

    `+862588886666` → `02588886666`, `+8613912345678` → `13912345678`, `+864008123123` →
    `4008123123`, `+8695588` → `95588`, `+442079460958` → `00442079460958`, `110` → `110`.

    Cached: the engine asks for the same callee and caller numbers on every trunk it tries, and
    caller IDs (main numbers, direct lines) repeat across calls."""
    if not number.startswith("+"):
        return number  # an emergency code: as dialled
    if is_service_number(number):
        return number[3:]
    parsed = _parse_e164(number)
    if parsed.country_code != 86:
        return "00" + number[1:]
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return re.sub(r"[^0-9]", "", national)


def _parse_e164(number: str) -> PhoneNumber:
    try:
        return phonenumbers.parse(number, None)
    except NumberParseException as exc:
        raise ValueError(f"not an E.164 number: {number!r}") from exc


def caller_id_for(subscriber: Subscriber, tenant: TenantLine) -> str | None:
    """The number an outside callee sees (CALL-9): the user's direct line if they have one,
    else the enterprise's main number; None if the enterprise has neither (the engine then
    refuses the call rather than present a number that isn't the enterprise's)."""
    return subscriber.direct_line or tenant.main_number or None
