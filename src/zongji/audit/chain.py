"""The hash that links an entry to the one before it.

hash(n) = SHA-256(hash(n-1) ‖ canonical JSON of entry n's recorded fields). Changing, removing or
reordering any entry changes every later hash, so an edit made directly in the database shows.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from zongji.audit.models import AuditEntry

GENESIS = "0" * 64


def entry_hash(entry: AuditEntry, prev_hash: str) -> str:
    fields: list[Any] = [
        str(entry.tenant_id),
        entry.seq,
        entry.at.isoformat(timespec="microseconds"),
        entry.actor_kind,
        str(entry.actor_id) if entry.actor_id else None,
        entry.actor_name,
        entry.address,
        entry.action,
        entry.target_type,
        entry.target_id,
        entry.target_label,
        entry.level,
        entry.summary,
    ]
    canonical = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(prev_hash.encode() + canonical.encode()).hexdigest()
