"""Tags, branches and Call-IDs: the right shape, never repeated, and not shared with a fork."""

from __future__ import annotations

import os
import re

from zongji.sip.ids import (
    _POOL_BYTES,
    BRANCH_MAGIC_COOKIE,
    new_branch,
    new_call_id,
    new_tag,
    random_bits,
)


def test_ids_have_their_lengths_and_the_branch_cookie() -> None:
    assert re.fullmatch(r"[0-9a-f]{12}", new_tag())
    assert re.fullmatch(BRANCH_MAGIC_COOKIE + r"[0-9a-f]{16}", new_branch())
    assert re.fullmatch(r"[0-9a-f]{32}", new_call_id())


def test_ids_do_not_repeat_across_many_pool_refills() -> None:
    count = 3 * _POOL_BYTES  # many times through the pool
    branches = {new_branch() for _ in range(count)}
    tags = {new_tag() for _ in range(count)}
    assert len(branches) == count
    assert len(tags) == count


def test_random_bits_stay_in_range() -> None:
    values = [random_bits(64) for _ in range(1000)]
    assert all(0 <= v < 2**64 for v in values)
    assert len(set(values)) == 1000


def test_a_forked_child_does_not_hand_out_its_parents_ids() -> None:
    new_branch()  # the parent's pool holds a block now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next branches, to the parent
        os.close(read)
        os.write(write, ",".join(new_branch() for _ in range(8)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split(",")
    os.waitpid(pid, 0)
    parent = [new_branch() for _ in range(8)]
    assert len(child) == 8
    assert not set(child) & set(parent)
