"""Tables of devices (filled in by the work on it)."""

from __future__ import annotations
