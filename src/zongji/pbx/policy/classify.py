"""Number classes: what kind of call a dialled number makes, seen from the enterprise's city.

Restriction levels (ADM-15) are stated in these classes, so this is where "local" gets its
meaning, from libphonenumber's China metadata:

- a landline is local when its area code is the enterprise's (025 for Nanjing);
- a mobile is local when its number block (the first seven digits) is registered to the
  enterprise's city in the library's geocoding data. Both sides are compared as the library's own
  place names ('江苏省南京市'): the enterprise's side is the geocode of a landline in its area code,
  so '南京', '南京市' or a typo in the enterprise's city name don't matter; only when the area code
  has no geocode does the city name decide;
- 400/800 and any other number in China is domestic; anything outside mainland China
  (Hong Kong and Macau included, which are international calls from the mainland) is international;
- 110, 119, 120 and 122 are emergency, whatever else is true.

The geocoding facts are libphonenumber's, read from a compact table of China's prefixes
(`places.py`) instead of `phonenumbers.geocoder`, which holds every country's in memory.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from zongji.pbx.contracts import DialKind, Dialled, NumberClass
from zongji.pbx.policy.places import place_of
from zongji.platform.phone import EMERGENCY_NUMBERS

_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
_MOBILE_BLOCK = 7  # 1xx xxxx: the longest prefix China's mobile geocoding data distinguishes


@dataclass(frozen=True)
class Area:
    """The enterprise's side of the comparison: its area code and its place name."""

    area_code: str  # without the trunk prefix: "25"
    place: str  # the geocoder's name for that area code ('江苏省南京市'), or the city as given
    by_city_name: bool  # no geocode for the area code: compare by the city name instead


def _strip_city(name: str) -> str:
    name = name.strip()
    return name[:-1] if name.endswith("市") and len(name) > 1 else name


@lru_cache(maxsize=4096)
def area_of(area_code: str, city: str) -> Area:
    """The enterprise's area, from its area code ('025' or '25') and city name."""
    code = re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", area_code)).lstrip("0")
    for subscriber in ("66666666", "6666666", "88888888", "8888888"):
        try:
            number = phonenumbers.parse(f"+86{code}{subscriber}")
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            place = place_of(f"86{code}{subscriber}")
            if place:
                return Area(code, place, by_city_name=False)
    return Area(code, _strip_city(city), by_city_name=True)


def mobile_place(block: str) -> str:
    """The geocoder's place for a Chinese mobile block (its first seven digits); '' if none."""
    return place_of(f"86{block}0000")


def _same_place(area: Area, place: str) -> bool:
    if not place:
        return False
    if not area.by_city_name:
        return place == area.place
    # '江苏省南京市' against '南京': the place ends with the city, on a province/city boundary
    return _strip_city(place).endswith(area.place) and bool(area.place)


def classify_number(number: str, area: Area) -> NumberClass:
    """The class of an outside number (E.164, or an emergency code)."""
    digits = number.lstrip("+")
    if digits in EMERGENCY_NUMBERS:
        return NumberClass.EMERGENCY
    if not number.startswith("+"):
        # a short service number the dial plan passed on as dialled: a call inside China
        return NumberClass.DOMESTIC
    try:
        parsed = phonenumbers.parse(number)
    except NumberParseException:
        return NumberClass.INTERNATIONAL if not digits.startswith("86") else NumberClass.DOMESTIC
    if parsed.country_code != 86:
        return NumberClass.INTERNATIONAL
    national = phonenumbers.national_significant_number(parsed)
    if national in EMERGENCY_NUMBERS:
        return NumberClass.EMERGENCY
    if not phonenumbers.is_valid_number(parsed):
        return NumberClass.DOMESTIC
    kind = phonenumbers.number_type(parsed)
    if kind in _MOBILE_TYPES and national.startswith("1"):
        block = national[:_MOBILE_BLOCK]
        return NumberClass.LOCAL if _same_place(area, mobile_place(block)) else NumberClass.DOMESTIC
    if kind is PhoneNumberType.FIXED_LINE or kind in _MOBILE_TYPES:
        length = phonenumbers.length_of_geographical_area_code(parsed)
        if length and national[:length] == area.area_code:
            return NumberClass.LOCAL
        return NumberClass.DOMESTIC
    return NumberClass.DOMESTIC  # 400, 800, and other national services


def classify(dialled: Dialled, area: Area) -> NumberClass:
    """The class of a call as the dial plan understood it."""
    if dialled.kind is DialKind.EMERGENCY or dialled.number in EMERGENCY_NUMBERS:
        return NumberClass.EMERGENCY
    if dialled.kind is DialKind.EXTENSION:
        return NumberClass.INTERNAL
    return classify_number(dialled.number, area)
