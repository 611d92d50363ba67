"""Random identifiers: tags (RFC 3261 §19.3), branches (§8.1.1.7) and Call-IDs (§8.1.1.4).

One place for them so that their length and randomness are decided once. RFC 3261 asks for
uniqueness (a branch unique across space and time, a tag globally unique with at least 32 random
bits) and recommends cryptographic randomness for Call-IDs; we also want none of them guessable,
since a branch or a tag that can be guessed lets a third party inject responses. So every id is
drawn from the OS's cryptographic generator, as `secrets` does, but a few kilobytes at a time
(`_RandomPool`): one system call for hundreds of ids rather than one per id, and the bytes are
still the OS's, each used once. A forked child starts a pool of its own, so parent and child
never hand out the same bytes.
"""

from __future__ import annotations

import os
import threading
from typing import Final

BRANCH_MAGIC_COOKIE: Final = "z9hG4bK"

_POOL_BYTES: Final = 4096


class _RandomPool:
    """Bytes from `os.urandom`, fetched in blocks and handed out once each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block = b""
        self._at = 0

    def hex(self, nbytes: int) -> str:
        with self._lock:
            at = self._at
            if at + nbytes > len(self._block):
                self._block = os.urandom(max(_POOL_BYTES, nbytes))
                at = 0
            self._at = at + nbytes
            return self._block[at : at + nbytes].hex()

    def integer(self, nbytes: int) -> int:
        return int(self.hex(nbytes), 16)

    def reset(self) -> None:
        """Forget the block (a forked child must not reuse its parent's bytes)."""
        self._lock = threading.Lock()
        self._block = b""
        self._at = 0


_pool: Final = _RandomPool()
os.register_at_fork(after_in_child=_pool.reset)


def random_bits(bits: int) -> int:
    """A cryptographically random integer of at most `bits` bits (a whole number of bytes)."""
    return _pool.integer(bits // 8)


def new_tag() -> str:
    return _pool.hex(6)


def new_branch() -> str:
    return BRANCH_MAGIC_COOKIE + _pool.hex(8)


def new_call_id() -> str:
    return _pool.hex(16)
