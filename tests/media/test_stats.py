"""An endpoint's counters (`media/stats.py`)."""

from __future__ import annotations

import dataclasses

from zongji.media.stats import EndpointStats


def test_a_copy_of_the_stats_has_every_field_and_is_independent() -> None:
    names = [f.name for f in dataclasses.fields(EndpointStats)]
    stats = EndpointStats(**{name: index + 1 for index, name in enumerate(names)})
    copy = stats.copy()
    assert copy == stats  # field by field, none shifted or left at its default
    assert copy is not stats
    copy.packets_received += 100
    assert stats.packets_received == names.index("packets_received") + 1
