"""Where a Chinese number is registered: libphonenumber's geocoding facts for +86, kept small.

`phonenumbers.geocoder` imports the geocoding data of every country in every language at once:
about 100 MB of Python dicts held for the life of the process, most of an idle node's memory,
for the ~130 000 prefixes of China in Chinese that the outbound policy reads (`classify.py`).
Here those prefixes are extracted once, in a child process (so the parent never holds the whole
table), into a file of sorted integer arrays (prefix → index of one of ~400 place names) of
about 1 MB, cached beside other users of the same phonenumbers release; the node loads that.

The lookup is libphonenumber's own: the longest prefix of the number's E.164 digits that has a
Chinese name (`phonenumbers.geocoder._prefix_description_for_number` with lang "zh", which does
not fall back to English). Validity and number type stay with `phonenumbers` (`classify.py`);
the tests compare this table with the geocoder over every +86 prefix.

The cache directory: `ZONGJI_CACHE_DIR`, else `$XDG_CACHE_HOME/zongji` (`~/.cache/zongji`),
else a directory under the system's temporary directory when those are not writable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import phonenumbers

COUNTRY = "86"
LANGUAGE = "zh"


@dataclass(frozen=True)
class PlaceTable:
    """Prefixes by length, each length a sorted array with the index of its place name."""

    names: tuple[str, ...]
    prefixes: dict[int, npt.NDArray[np.int64]]  # length -> sorted prefixes of that length
    places: dict[int, npt.NDArray[np.uint16]]  # length -> index into `names`, aligned

    def place_of(self, digits: str) -> str:
        """The place of the number whose E.164 digits (no '+') are `digits`; '' if unknown."""
        for length in sorted(self.prefixes, reverse=True):
            if len(digits) < length or not digits[:length].isdigit():
                continue
            keys = self.prefixes[length]
            prefix = int(digits[:length])
            at = int(np.searchsorted(keys, prefix))
            if at < len(keys) and int(keys[at]) == prefix:
                return self.names[int(self.places[length][at])]
        return ""


def extract() -> dict[str, str]:
    """Every +86 prefix with a Chinese name, from libphonenumber's geocoding data (imports all
    of it: run in a child process, see `_build`)."""
    from phonenumbers.geodata import GEOCODE_DATA

    return {
        prefix: names[LANGUAGE]
        for prefix, names in GEOCODE_DATA.items()
        if prefix.startswith(COUNTRY) and names.get(LANGUAGE)
    }


def _table_of(prefixes: dict[str, str]) -> PlaceTable:
    names = tuple(sorted(set(prefixes.values())))
    index = {name: i for i, name in enumerate(names)}
    by_length: dict[int, list[tuple[int, int]]] = {}
    for prefix, name in prefixes.items():
        by_length.setdefault(len(prefix), []).append((int(prefix), index[name]))
    keys: dict[int, npt.NDArray[np.int64]] = {}
    places: dict[int, npt.NDArray[np.uint16]] = {}
    for length, rows in by_length.items():
        rows.sort()
        keys[length] = np.array([key for key, _ in rows], dtype=np.int64)
        places[length] = np.array([place for _, place in rows], dtype=np.uint16)
    return PlaceTable(names, keys, places)


def _save(table: PlaceTable, path: Path) -> None:
    arrays: dict[str, Any] = {}  # numpy's stub types savez's **kwds as its allow_pickle too
    for length in table.prefixes:
        arrays[f"prefixes_{length}"] = table.prefixes[length]
        arrays[f"places_{length}"] = table.places[length]
    names = np.frombuffer(json.dumps(table.names, ensure_ascii=False).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    with partial.open("wb") as out:
        np.savez(out, names=names, **arrays)
    os.replace(partial, path)  # whole or absent, also for nodes building it at once


def _load(path: Path) -> PlaceTable:
    with np.load(path) as data:
        names = tuple(json.loads(bytes(data["names"]).decode()))
        stored = [key for key in data.files if key.startswith("prefixes_")]
        lengths = sorted(int(key.split("_")[1]) for key in stored)
        return PlaceTable(
            names,
            {n: data[f"prefixes_{n}"] for n in lengths},
            {n: data[f"places_{n}"] for n in lengths},
        )


def cache_path() -> Path:
    """Where the table of this phonenumbers release is kept (see the module's docstring)."""
    name = f"cn-places-{phonenumbers.__version__}.npz"
    configured = os.environ.get("ZONGJI_CACHE_DIR")
    if configured:
        return Path(configured) / name
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    candidate = Path(base) / "zongji"
    try:
        candidate.mkdir(parents=True, exist_ok=True)
        if os.access(candidate, os.W_OK):
            return candidate / name
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / f"zongji-cache-{os.getuid()}" / name


def _build(path: Path) -> None:
    """Extract and save the table in a child process: the parent never imports the geodata."""
    subprocess.run(  # noqa: S603 - this interpreter running this module
        [sys.executable, "-m", "zongji.pbx.policy.places", str(path)],
        check=True,
        capture_output=True,
        timeout=300,
    )


_lock = threading.Lock()
_table: PlaceTable | None = None


def table() -> PlaceTable:
    """The table, loaded once per process (built first if this release has none cached).
    Blocking the first time: a node calls it at start (`Services.start`), off the loop."""
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                path = cache_path()
                if not path.exists():
                    _build(path)
                _table = _load(path)
    return _table


def place_of(digits: str) -> str:
    """The place of the number whose E.164 digits (no '+') are `digits`; '' if unknown."""
    return table().place_of(digits)


if __name__ == "__main__":
    _save(_table_of(extract()), Path(sys.argv[1]))
