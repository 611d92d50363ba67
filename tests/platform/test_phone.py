"""What people type becomes one E.164 number."""

from __future__ import annotations

import pytest

from zongji.platform.phone import InvalidNumber, normalise_area_code, to_e164, to_mobile_e164


@pytest.mark.parametrize(
    ("typed", "area", "expected"),
    [
        ("025-8400 1234", None, "+862584001234"),
        ("84001234", "025", "+862584001234"),
        ("８４００１２３４", "025", "+862584001234"),
        ("+86 138 0013 8000", None, "+8613800138000"),
        ("0086 13800138000", None, "+8613800138000"),
        ("(010) 6552-9988", None, "+861065529988"),
        ("4008123123", None, "+864008123123"),
        ("+1 650 253 0000", None, "+16502530000"),
    ],
)
def test_normalises(typed: str, area: str | None, expected: str) -> None:
    assert to_e164(typed, area_code=area) == expected


@pytest.mark.parametrize("typed", ["", "abc", "12", "138001380001234567890", "+86 0000"])
def test_refuses(typed: str) -> None:
    with pytest.raises(InvalidNumber):
        to_e164(typed)


def test_mobiles_only() -> None:
    assert to_mobile_e164("１３８００１３８０００") == "+8613800138000"
    with pytest.raises(InvalidNumber):
        to_mobile_e164("025-84001234")


def test_area_codes() -> None:
    assert normalise_area_code("25") == "025"
    assert normalise_area_code("010") == "010"
    with pytest.raises(InvalidNumber):
        normalise_area_code("2a")
