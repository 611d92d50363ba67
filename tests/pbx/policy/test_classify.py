"""Number classes relative to the enterprise's city, from libphonenumber's China metadata."""

from __future__ import annotations

import pytest

from tests.pbx.policy.helpers import (
    HONG_KONG,
    INTERNATIONAL,
    LOCAL_LANDLINE,
    LOCAL_MOBILE,
    OTHER_CITY_LANDLINE,
    OTHER_CITY_MOBILE,
    SERVICE_400,
    TOLL_FREE_800,
    emergency,
    extension,
    outside,
)
from zongji.pbx.contracts import DialKind, Dialled, NumberClass
from zongji.pbx.policy.classify import area_of, classify, classify_number

NANJING = area_of("25", "南京")


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (LOCAL_LANDLINE, NumberClass.LOCAL),
        (LOCAL_MOBILE, NumberClass.LOCAL),
        (OTHER_CITY_LANDLINE, NumberClass.DOMESTIC),
        (OTHER_CITY_MOBILE, NumberClass.DOMESTIC),
        ("+8657188888888", NumberClass.DOMESTIC),  # Hangzhou landline
        (SERVICE_400, NumberClass.DOMESTIC),
        (TOLL_FREE_800, NumberClass.DOMESTIC),
        (INTERNATIONAL, NumberClass.INTERNATIONAL),
        (HONG_KONG, NumberClass.INTERNATIONAL),
        ("+442079460000", NumberClass.INTERNATIONAL),
        ("110", NumberClass.EMERGENCY),
        ("+86120", NumberClass.EMERGENCY),
        ("12345", NumberClass.DOMESTIC),  # a short service number
    ],
)
def test_numbers_seen_from_nanjing(number: str, expected: NumberClass) -> None:
    assert classify_number(number, NANJING) is expected


def test_dial_kinds() -> None:
    assert classify(extension(), NANJING) is NumberClass.INTERNAL
    for code in ("110", "119", "120", "122"):
        assert classify(emergency(code), NANJING) is NumberClass.EMERGENCY
    # an emergency code the dial plan passed as an outside number is still an emergency
    assert classify(Dialled(DialKind.EXTERNAL, "119", "119"), NANJING) is NumberClass.EMERGENCY
    assert classify(outside(LOCAL_MOBILE), NANJING) is NumberClass.LOCAL


@pytest.mark.parametrize(
    ("area_code", "city"),
    [("25", "南京"), ("025", "南京市"), ("25", "Nanjing"), ("０２５", "南京")],
)
def test_the_enterprise_city_may_be_spelt_any_way(area_code: str, city: str) -> None:
    area = area_of(area_code, city)
    assert area.place == "江苏省南京市"
    assert classify_number(LOCAL_MOBILE, area) is NumberClass.LOCAL
    assert classify_number(LOCAL_LANDLINE, area) is NumberClass.LOCAL
    assert classify_number(OTHER_CITY_MOBILE, area) is NumberClass.DOMESTIC


def test_a_municipality() -> None:
    beijing = area_of("010", "北京")
    assert classify_number("+8613601012345", beijing) is NumberClass.LOCAL  # Beijing mobile
    assert classify_number(OTHER_CITY_LANDLINE, beijing) is NumberClass.LOCAL
    assert classify_number(LOCAL_LANDLINE, beijing) is NumberClass.DOMESTIC
    assert classify_number(LOCAL_MOBILE, beijing) is NumberClass.DOMESTIC


def test_a_three_digit_area_code() -> None:
    suzhou = area_of("0512", "苏州")
    assert classify_number("+8651266668888", suzhou) is NumberClass.LOCAL
    assert classify_number("+8615850123456", suzhou) is NumberClass.LOCAL  # Suzhou mobile
    assert classify_number(LOCAL_LANDLINE, suzhou) is NumberClass.DOMESTIC


def test_an_area_code_without_geocode_falls_back_to_the_city_name() -> None:
    area = area_of("9", "南京市")  # no such area code
    assert area.by_city_name
    assert classify_number(LOCAL_MOBILE, area) is NumberClass.LOCAL
    assert classify_number(OTHER_CITY_MOBILE, area) is NumberClass.DOMESTIC
