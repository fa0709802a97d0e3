"""The big schemathesis run: tests/fuzz with many examples per operation.

::

    python -m bench.fuzz                 # 200 examples per operation, every service
    python -m bench.fuzz 1000 -k wallet  # more examples; extra arguments go to pytest

CI runs the same tests with ``MYDATA_FUZZ_EXAMPLES`` at its default (a bounded smoke run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    examples = argv[0] if argv and argv[0].isdigit() else "200"
    rest = argv[1:] if argv and argv[0].isdigit() else argv
    environment = {**os.environ, "MYDATA_FUZZ_EXAMPLES": examples}
    command = [sys.executable, "-m", "pytest", "-q", "tests/fuzz", *rest]
    return subprocess.call(command, cwd=ROOT, env=environment)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
