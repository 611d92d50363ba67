"""Phone numbers: normalise what people type into E.164, with China as the home region.

People type numbers with spaces, dashes, full-width digits (１３８…), a `+86` or `0086` prefix, or a
landline without its area code. Everything is stored in E.164 (`+8613800138000`), so that a number
typed two ways is one number.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

_SEPARATORS = re.compile(r"[\s\-().·]")

EMERGENCY_NUMBERS = frozenset({"110", "119", "120", "122"})
"""China's emergency numbers: police, fire, ambulance, traffic accidents. One list for the whole
product: the dial plan routes them as dialled, the outbound policy always allows them, and no
extension may shadow them."""


def clean_digits(raw: str) -> str:
    """NFKC (full-width → ASCII) and drop separators; keep a leading `+`."""
    text = unicodedata.normalize("NFKC", raw).strip()
    return _SEPARATORS.sub("", text)


class InvalidNumber(ValueError):
    pass


def to_e164(raw: str, *, area_code: str | None = None, region: str = "CN") -> str:
    """E.164 for `raw`; a landline without area code takes `area_code` (e.g. `025`)."""
    text = clean_digits(raw)
    if text.startswith("00"):
        text = "+" + text[2:]
    if not re.fullmatch(r"\+?\d{3,20}", text):
        raise InvalidNumber(f"not a phone number: {raw!r}")
    if area_code and not text.startswith(("+", "0", "1")) and 7 <= len(text) <= 8:
        text = area_code + text
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidNumber(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def to_mobile_e164(raw: str, region: str = "CN") -> str:
    """E.164 for a mobile number; landlines are refused (a login code goes by SMS)."""
    e164 = to_e164(raw, region=region)
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
    if kind not in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidNumber(f"not a mobile number: {raw!r}")
    return e164


def normalise_area_code(raw: str) -> str:
    """`25`, `025`, `０２５` → `025`: a Chinese area code with its trunk prefix."""
    digits = clean_digits(raw)
    if not re.fullmatch(r"0?\d{2,3}", digits):
        raise InvalidNumber(f"not an area code: {raw!r}")
    return digits if digits.startswith("0") else "0" + digits
