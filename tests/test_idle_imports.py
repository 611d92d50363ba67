"""What a started node does not hold until it is used: libphonenumber's geocoding data for every
country (~100 MB, `pbx/policy/places.py` reads China's from a small table), openpyxl (made
spreadsheets only) and the Redis client (a bus between nodes only) — most of what an idle node
held beyond ~200 MB (issue 16)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("phonenumbers.geodata", "openpyxl", "redis")


def test_a_started_node_imports_none_of_the_heavy_modules(tmp_path: Path) -> None:
    """In a fresh interpreter: import what `zongji serve` imports, classify a number as the
    outbound policy does, start the services, then look at what was imported."""
    script = f"""
import asyncio, sys
import zongji.cli, zongji.node, zongji.api.app
from zongji.pbx.policy.classify import area_of, classify_number
from zongji.platform.config import Settings
from zongji.services import build_services

assert classify_number("+8613912345678", area_of("25", "南京")) is not None
settings = Settings(
    database_url="sqlite+aiosqlite:///{tmp_path}/db.sqlite3", data_dir={str(tmp_path)!r}
)
services = build_services(settings)
asyncio.run(services.start())
print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
