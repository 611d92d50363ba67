"""Random identifiers: tags (RFC 3261 §19.3), branches (§8.1.1.7) and Call-IDs (§8.1.1.4).

One place for them so that their length and randomness (the `secrets` module: a branch or a
tag that can be guessed lets a third party inject responses) are decided once.
"""

from __future__ import annotations

import secrets
from typing import Final

BRANCH_MAGIC_COOKIE: Final = "z9hG4bK"


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return BRANCH_MAGIC_COOKIE + secrets.token_hex(8)


def new_call_id() -> str:
    return secrets.token_hex(16)
