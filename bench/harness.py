"""A small benchmark harness: medians over repeated runs, ratios to primitives, and targets.

These machines are shared and noisy, so every figure is reported twice: as time per operation
(median of ``repeats`` runs, each long enough to be measurable) and as a ratio to raw primitives
measured in the same run, which is what stays comparable between runs and machines. A
:class:`Target` is a goal of issue 8 judged on a figure: a ratio bound (within 2x of the
floor), a speed-up over a reference (2.5x faster than sd-jwt), a latency or a rate.

A group module (``bench/<name>.py``, see ``bench/__init__.py``) adds :class:`Figure` objects
(``group``: its heading; ``baseline``: the name of the figure it is divided by, added earlier
in the same run) with :meth:`Results.add`, targets with :meth:`Results.within`,
:meth:`Results.faster_than`, :meth:`Results.under` or :meth:`Results.at_least`, and scalars
worth keeping (sizes, counts) in ``results.info["<name>.<key>"]``.
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

__all__ = [
    "CLOCKS",
    "Figure",
    "Results",
    "Target",
    "measure",
    "measure_async",
    "measure_paired",
    "use_clock",
]


@dataclass
class Figure:
    """One measured operation: seconds per op (median) and the spread of the repeats."""

    name: str
    seconds: float
    runs: list[float]
    group: str = ""
    baseline: str | None = None  # name of the primitive figure to compare against
    note: str = ""
    #: Per-repeat ratios to the baseline timed alternately with it (:func:`measure_paired`);
    #: their median is the figure's ratio, steadier than a ratio of two separate medians.
    paired_ratios: list[float] | None = None

    @property
    def ops_per_second(self) -> float:
        return 1.0 / self.seconds if self.seconds else float("inf")


#: What :func:`measure` and :func:`measure_async` time: wall-clock seconds (the default), or
#: the process's CPU seconds, all threads (askar's included), which a machine shared with other
#: work disturbs far less (``./dev bench --clock cpu``; not for figures that wait on I/O).
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
_clock: Callable[[], float] = time.perf_counter


def use_clock(name: str) -> None:
    """Time the following measurements with the clock ``name`` (a key of :data:`CLOCKS`)."""
    global _clock
    _clock = CLOCKS[name]


def _loops_for(fn: Callable[[], object], min_time: float) -> int:
    loops = 1
    while True:
        start = _clock()
        for _ in range(loops):
            fn()
        if _clock() - start >= min_time / 5 or loops >= 1 << 24:
            return loops
        loops *= 2


def measure(
    name: str, fn: Callable[[], object], *, repeats: int = 7, min_time: float = 0.1, **meta: Any
) -> Figure:
    """Median seconds per call of ``fn`` over ``repeats`` runs of about ``min_time`` each."""
    loops = max(1, _loops_for(fn, min_time) * 5)
    runs = []
    for _ in range(repeats):
        start = _clock()
        for _ in range(loops):
            fn()
        runs.append((_clock() - start) / loops)
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
        start = _clock()
        for _ in range(loops):
            await fn()
        return (_clock() - start) / loops

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


def measure_paired(
    name: str,
    fn: Callable[[], object],
    baseline: Callable[[], object],
    *,
    baseline_name: str,
    repeats: int = 7,
    min_time: float = 0.1,
    group: str = "",
    fn_async: bool = False,
    baseline_async: bool = False,
) -> Figure:
    """``fn`` timed alternately with ``baseline`` (a batch of each per repeat), so that both
    see the same machine; the ratio is the median of the per-repeat ratios. Either may be a
    coroutine function (``fn_async``/``baseline_async``); both run in one event loop."""

    async def batch(call: Callable[[], Any], is_async: bool, loops: int) -> float:
        start = _clock()
        if is_async:
            for _ in range(loops):
                await call()
        else:
            for _ in range(loops):
                call()
        return (_clock() - start) / loops

    async def calibrate(call: Callable[[], Any], is_async: bool) -> int:
        loops = 1
        while True:
            if (await batch(call, is_async, loops)) * loops >= min_time or loops >= 1 << 20:
                return loops
            loops *= 2

    async def main() -> tuple[list[float], list[float]]:
        fn_loops = await calibrate(fn, fn_async)
        base_loops = await calibrate(baseline, baseline_async)
        mine: list[float] = []
        theirs: list[float] = []
        for _ in range(repeats):
            theirs.append(await batch(baseline, baseline_async, base_loops))
            mine.append(await batch(fn, fn_async, fn_loops))
        return mine, theirs

    mine, theirs = asyncio.run(main())
    return Figure(
        name,
        statistics.median(mine),
        mine,
        group=group,
        baseline=baseline_name,
        paired_ratios=[a / b for a, b in zip(mine, theirs, strict=True)],
    )


@dataclass
class Target:
    """A goal judged on one measured value: ``value`` <= ``bound`` (or >= with ``at_least``)."""

    name: str
    figure: str
    value: float
    bound: float
    unit: str
    at_least: bool = False

    @property
    def met(self) -> bool:
        return self.value >= self.bound if self.at_least else self.value <= self.bound

    def describe(self) -> tuple[str, str]:
        """(measured, wanted) as printed."""

        def fmt(value: float) -> str:
            if self.unit == "ms":
                return f"{value:.2f} ms"
            if self.unit == "/s":
                return f"{value:,.0f}/s"
            if self.unit == "s":
                return f"{value:.1f} s"
            if self.unit == "MB":
                return f"{value:.0f} MB"
            return f"{value:.2f}{self.unit}"

        return fmt(self.value), ("≥ " if self.at_least else "≤ ") + fmt(self.bound)


@dataclass
class Results:
    """All figures and targets of one run, printed as tables and written as JSON."""

    figures: list[Figure] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def get(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.figures)

    def target(self, target: Target) -> Target:
        self.targets.append(target)
        return target

    def within(self, name: str, figure: str, bound: float) -> Target:
        """``figure`` costs at most ``bound`` times its baseline (both of this run)."""
        ratio = self.ratio(self.get(figure))
        assert ratio is not None, f"{figure} has no baseline"
        return self.target(Target(name, figure, ratio, bound, "x its floor"))

    def faster_than(self, name: str, figure: str, reference: str, bound: float) -> Target:
        """``figure`` is at least ``bound`` times as fast as ``reference`` (same run; the
        paired ratio when ``figure`` was timed alternately with ``reference``)."""
        measured = self.get(figure)
        ratio = self.ratio(measured) if measured.baseline == reference else None
        speedup = 1 / ratio if ratio else self.get(reference).seconds / measured.seconds
        return self.target(
            Target(name, figure, speedup, bound, "x the reference's speed", at_least=True)
        )

    def under(self, name: str, figure: str, milliseconds: float) -> Target:
        """``figure``'s median is at most ``milliseconds``."""
        return self.target(Target(name, figure, self.get(figure).seconds * 1e3, milliseconds, "ms"))

    def at_least(self, name: str, figure: str, per_second: float) -> Target:
        """``figure`` (seconds per operation) runs at least ``per_second`` times a second."""
        rate = self.get(figure).ops_per_second
        return self.target(Target(name, figure, rate, per_second, "/s", at_least=True))

    def ratio(self, figure: Figure) -> float | None:
        if figure.baseline is None:
            return None
        if figure.paired_ratios:
            return statistics.median(figure.paired_ratios)
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
                f"{figure.name:58} {_duration(figure.seconds):>11} "
                f"{figure.ops_per_second:11,.0f} "
                + (f"{ratio:6.2f}x  {figure.baseline}" if ratio is not None else "")
            )
        return "\n".join(lines)

    def target_table(self) -> str:
        """One line per target: measured, wanted, met."""
        if not self.targets:
            return "(no target was measured in this run)"
        rows = [(t.name, *t.describe(), "yes" if t.met else "NO") for t in self.targets]
        width = max(len(row[0]) for row in rows)
        lines = [f"{'target':{width}}  {'measured':>24}  {'wanted':>26}  met"]
        lines += [f"{n:{width}}  {m:>24}  {w:>26}  {ok}" for n, m, w, ok in rows]
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
            "targets": [{**asdict(t), "met": t.met} for t in self.targets],
        }
        path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


def _duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"
