"""Tables of records (filled in by the work on it)."""

from __future__ import annotations
