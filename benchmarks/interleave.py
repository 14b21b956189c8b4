"""One way to time peers fairly: round by round, each way in turn, the median of the rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved_medians(
    ways: dict[str, Callable[[], object]], rounds: int, calls_per_way: int = 1
) -> dict[str, float]:
    """Seconds per call of each way. Interleaving puts whatever else the machine does on every
    way alike; `calls_per_way` divides a timing when one call of a way does that many updates."""
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            times[name].append((time.perf_counter() - start) / calls_per_way)
    return {name: statistics.median(values) for name, values in times.items()}
