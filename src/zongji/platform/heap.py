"""The garbage collector, tuned for a long-running node once it has started.

CPython frees almost everything by reference counting; its cyclic collector exists for objects in
reference cycles, and it runs whenever allocations outnumber deallocations by a threshold. A node
under call load allocates in bursts (a call's messages, dialogs and legs), so with the default
thresholds (700, 10, 10) it runs a young collection every few hundred calls' worth of objects and,
every hundred of those, a full collection that walks the whole heap: the imported modules,
SQLAlchemy's mappers, pydantic's schemas, the web application, none of which will ever be garbage.
Measured on the PBX bench at 100 calls/s that was about 1 ms of CPU per call, in full collections
of a quarter of a second every few seconds, long enough to make SIP peers retransmit.

`settle_after_start()` is called once the node has started (everything imported, services and
components built): it collects what start-up left behind, then `gc.freeze()`s the rest, which
moves every object alive now to a permanent generation the collector never scans again, and raises
the thresholds so that young collections happen per several thousand net allocations rather than
per 700, and full collections rarely. Calls themselves leave no cycles (their objects are freed by
reference counting when the call ends, which tests pin), so the collector has little to find: the
higher thresholds cost a little memory, not correctness.

Measured on the bench at 100 calls/s (GC time from `gc.callbacks`, 30 s of calls): before, 6 full
collections of 0.7-1.3 s each and 4-6 s of collecting in all; after, no full collection and
0.5-1.4 s in all.

The young threshold is 50,000 because of what a collection costs at a node's rated load. The
count behind it is *net* allocations of tracked objects, and a collection examines the young
objects still alive. At 300 calls/s (3-minute soaks on a quiet 2-vCPU machine, collector CPU
time from `gc.callbacks` with `time.thread_time`) a threshold of 5,000 ran ~8 young collections a
second, each finding the objects of calls still in progress alive (a call lasts seconds, its
transactions 32 s) and nothing to free: 15-18 % of the node's CPU, ~3.0 ms per call, and pauses
of up to 0.24 s that, with a full collection of 0.8 s, made phones retransmit (607
retransmissions in 3 minutes). At 50,000 the count only passes the threshold while the live set
grows (the first minute: 18 collections, the longest 0.26 s); once calls start and end at the
same rate it hardly moves, so no collection runs: 2.2-2.4 ms per call and 0 retransmissions, no
worse than with the collector off (2.5-2.7 ms in the same session), and the collector is still
there for whatever does grow.
"""

from __future__ import annotations

import gc
import logging
from typing import Final

log = logging.getLogger(__name__)

#: gen0: net allocations between young collections; gen1 / gen2: how many collections of the
#: younger generation before the next one is collected (CPython's defaults are 700, 10, 10).
THRESHOLDS: Final = (50_000, 20, 50)


def settle_after_start(thresholds: tuple[int, int, int] = THRESHOLDS) -> int:
    """Collect, freeze the start-up heap and raise the collector's thresholds; returns how many
    objects were frozen. Call once, after the node has started."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    frozen = gc.get_freeze_count()
    log.info("start-up heap frozen", extra={"frozen": frozen, "gc_thresholds": thresholds})
    return frozen
