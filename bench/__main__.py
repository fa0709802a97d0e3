"""``./dev bench``: run the benchmarks, print medians, ratios and targets, write JSON.

./dev bench                      every group (the issuer's 100,000-credential batches included)
./dev bench proofs verifier      some groups
./dev bench --quick              a smoke run: 3 short repeats, small batches
./dev bench --json out.json      also write the results to out.json
./dev bench --clock cpu          CPU seconds instead of wall-clock (a busy, shared machine)

Results go to bench/results/latest.json and bench/results/bench-<time>.json (--out DIR).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import CLOCKS, Results, Target, use_clock

#: Group name -> module of this package, in the order they run (cheap first).
GROUPS = ("proofs", "didcomm", "verifier", "wallet", "issuer", "services")
#: Groups whose module may be absent (another change adds it).
OPTIONAL = frozenset({"services"})

Runner = Callable[..., None]


def _runners(names: list[str]) -> dict[str, Runner]:
    runners: dict[str, Runner] = {}
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if name in OPTIONAL and exc.name == f"bench.{name}":
                continue
            raise
        run = getattr(module, "run", None)
        if run is None and name in OPTIONAL:
            continue  # not wired yet
        runners[name] = module.run
    return runners


def issuer_targets(results: Results) -> None:
    """Issue-8 targets of the hospital, from what ``bench/issuer.py`` records in ``info``:
    ``issuer.batch.<backend>.<format>`` (``seconds``, ``issued``, ``peak_mb``) and
    ``issuer.vcapi.<backend>.workers<N>`` (``requests_per_second``, ...). A batch smaller
    than 100,000 (``--quick``, ``MYDATA_BENCH_BATCH``) is judged by its rate scaled to
    100,000. (``bench/issuer.py`` belongs to the hospital's work; were it to add its targets
    itself with ``results.within``/``under``/``at_least``, this would go.)"""

    limits = {"sqlite": 60.0, "postgres": 120.0}
    for key, outcome in sorted(results.info.items()):
        if not key.startswith("issuer.batch."):
            continue
        _, _, backend, fmt = key.split(".", 3)
        issued = max(1, int(outcome.get("issued") or 0))
        projected = outcome["seconds"] * 100_000 / issued
        figure = f"issuer batch {fmt} on {backend}"
        if backend in limits:
            results.target(
                Target(
                    f"hospital batch of 100,000 ({fmt}, {backend}), scaled from {issued:,}",
                    figure,
                    projected,
                    limits[backend],
                    "s",
                )
            )
        results.target(
            Target(
                f"hospital batch peak RSS ({fmt}, {backend})", figure, outcome["peak_mb"], 400, "MB"
            )
        )
    for key, figures in sorted(results.info.items()):
        # issuer.vcapi.<backend>.workers<N>; plain "issuer.vcapi" repeats one of them
        if not key.startswith("issuer.vcapi.") or not isinstance(figures, dict):
            continue
        _, _, backend, workers = key.split(".", 3)
        results.target(
            Target(
                f"hospital VC-API issue, 8 clients, {backend}, {workers.removeprefix('workers')} "
                "worker(s)",
                "issuer VC-API",
                figures["requests_per_second"],
                1000,
                "/s",
                at_least=True,
            )
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("groups", nargs="*", help=f"groups to run: {', '.join(GROUPS)}")
    parser.add_argument("--quick", action="store_true", help="3 short repeats per figure")
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="results folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="time per-operation figures by wall clock, or by the process's CPU time (steadier "
        "on a machine shared with other work; load tests and wallet figures stay wall-clock)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    runners = _runners([name for name in GROUPS if not args.groups or name in args.groups])
    missing = sorted(set(args.groups) - set(runners))
    if missing:
        parser.error(f"group(s) {', '.join(missing)} not available (no bench module yet)")
    repeats, min_time = (3, 0.02) if args.quick else (7, 0.2)
    results = Results()
    results.info["quick"] = args.quick
    results.info["clock"] = args.clock
    use_clock(args.clock)
    # In-process figures run askar as the mydata command does (one runtime thread).
    from agent.storage import configure_runtime

    results.info["askar_runtime_threads"] = configure_runtime()
    for name, run in runners.items():
        print(f"running {name} ...", flush=True)
        run(results, repeats=repeats, min_time=min_time)
    issuer_targets(results)
    print(results.table())
    print()
    print(results.target_table())
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"bench-{stamp}.json"
    results.write(path)
    results.write(args.out / "latest.json")
    if args.json is not None:
        results.write(args.json)
    print(f"results written to {path}" + (f" and {args.json}" if args.json else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
