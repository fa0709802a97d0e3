"""A small benchmark harness: medians over repeated runs, and ratios to primitives.

These machines are shared and noisy, so every figure is reported twice: as time per operation
(median of ``repeats`` runs, each long enough to be measurable) and as a ratio to raw primitives
measured in the same run, which is what stays comparable between runs and machines.
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Figure", "Results", "measure", "measure_async"]


@dataclass
class Figure:
    """One measured operation: seconds per op (median) and the spread of the repeats."""

    name: str
    seconds: float
    runs: list[float]
    group: str = ""
    baseline: str | None = None  # name of the primitive figure to compare against
    note: str = ""

    @property
    def ops_per_second(self) -> float:
        return 1.0 / self.seconds if self.seconds else float("inf")


def _loops_for(fn: Callable[[], object], min_time: float) -> int:
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        if time.perf_counter() - start >= min_time / 5 or loops >= 1 << 24:
            return loops
        loops *= 2


def measure(
    name: str, fn: Callable[[], object], *, repeats: int = 7, min_time: float = 0.1, **meta: Any
) -> Figure:
    """Median seconds per call of ``fn`` over ``repeats`` runs of about ``min_time`` each."""
    loops = max(1, _loops_for(fn, min_time) * 5)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        runs.append((time.perf_counter() - start) / loops)
    return Figure(name, statistics.median(runs), runs, **meta)


def measure_async(
    name: str,
    fn: Callable[[], Awaitable[object]],
    *,
    repeats: int = 7,
    min_time: float = 0.1,
    **meta: Any,
) -> Figure:
    """As :func:`measure`, for a coroutine function: the loop runs inside one event loop."""

    async def batch(loops: int) -> float:
        start = time.perf_counter()
        for _ in range(loops):
            await fn()
        return (time.perf_counter() - start) / loops

    async def main() -> list[float]:
        loops = 1
        while True:
            per_op = await batch(loops)
            if per_op * loops >= min_time or loops >= 1 << 20:
                break
            loops *= 2
        return [await batch(loops) for _ in range(repeats)]

    runs = asyncio.run(main())
    return Figure(name, statistics.median(runs), runs, **meta)


@dataclass
class Results:
    """All figures of one run, printed as a table and written as JSON."""

    figures: list[Figure] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def get(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)

    def ratio(self, figure: Figure) -> float | None:
        if figure.baseline is None:
            return None
        return figure.seconds / self.get(figure.baseline).seconds

    def table(self) -> str:
        lines = [f"{'figure':58} {'median':>11} {'ops/s':>11} {'ratio':>7}  baseline"]
        group = None
        for figure in self.figures:
            if figure.group != group:
                group = figure.group
                lines.append(f"-- {group}")
            ratio = self.ratio(figure)
            lines.append(
                f"{figure.name:58} {figure.seconds * 1e6:9.1f}us {figure.ops_per_second:11,.0f} "
                + (f"{ratio:6.2f}x  {figure.baseline}" if ratio is not None else "")
            )
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpu": platform.machine()},
            **self.info,
            "figures": [
                {**asdict(f), "ops_per_second": f.ops_per_second, "ratio": self.ratio(f)}
                for f in self.figures
            ],
        }
        path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
