"""China's number places from the compact table (`policy/places.py`) agree with libphonenumber's
geocoder, and the table is built once and cached (that a node never imports the geocoder's data:
`tests/test_idle_imports.py`)."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest
from phonenumbers import geocoder
from phonenumbers.geodata import GEOCODE_DATA

from zongji.pbx.policy import places


def _geocoder_place(digits: str) -> str | None:
    """The geocoder's answer for a valid number ('' for none), None for an invalid one."""
    number = phonenumbers.parse("+" + digits)
    if not phonenumbers.is_valid_number(number):
        return None
    place = geocoder.description_for_number(number, "zh")
    return "" if place == "中国" else place


def test_every_place_of_china_agrees_with_the_geocoder() -> None:
    prefixes = sorted(p for p in GEOCODE_DATA if p.startswith("86"))
    assert len(prefixes) > 100_000
    compared = 0
    for prefix in prefixes[::5]:
        for filler in ("0", "5", "9"):
            digits = prefix + filler * (13 - len(prefix))
            expected = _geocoder_place(digits)
            if expected is None:
                continue
            assert places.place_of(digits) == expected, digits
            compared += 1
    assert compared > 20_000


def test_numbers_without_a_place() -> None:
    assert places.place_of("") == ""
    assert places.place_of("86") == ""
    assert places.place_of("1202555") == ""  # not China
    assert places.place_of("86abc") == ""


def test_the_table_is_built_once_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZONGJI_CACHE_DIR", str(tmp_path))
    path = places.cache_path()
    assert path.parent == tmp_path
    assert phonenumbers.__version__ in path.name
    places._build(path)
    built = places._load(path)
    assert built.place_of("862566666666") == "江苏省南京市"
    assert built.names == places.table().names
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no partial file left
