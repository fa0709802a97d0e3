"""``./dev bench``: run the benchmarks, print medians and ratios, write bench/results/*.json.

./dev bench                 every benchmark
./dev bench proofs          one group
./dev bench --quick         fewer, shorter repeats (a smoke run)
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from bench import didcomm, issuer, proofs, verifier, wallet
from bench.harness import Results

GROUPS = {
    "proofs": proofs.run,
    "didcomm": didcomm.run,
    "issuer": issuer.run,
    "wallet": wallet.run,
    "verifier": verifier.run,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="./dev bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("groups", nargs="*", help=f"groups to run: {', '.join(GROUPS)}")
    parser.add_argument("--quick", action="store_true", help="3 short repeats per figure")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    unknown = sorted(set(args.groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    repeats, min_time = (3, 0.02) if args.quick else (7, 0.2)
    results = Results()
    for name in args.groups or list(GROUPS):
        print(f"running {name} ...", flush=True)
        GROUPS[name](results, repeats=repeats, min_time=min_time)
    print(results.table())
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"bench-{stamp}.json"
    results.write(path)
    results.write(args.out / "latest.json")
    print(f"results written to {path}")


if __name__ == "__main__":
    main()
