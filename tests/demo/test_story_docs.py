"""docs/stories stay true: their ```console blocks, run in order in one shell, reach the verdicts
the pages show.

Every ``$ `` line of the set-up (docs/stories/README.md) and of the stories 1, 2, 3, 5, 8 and 9
runs in one bash process, as a reader would type it, with three substitutions: ``MYDATA_HOME``
is a temporary folder, the fixed ports are free ones, and the recovery phrase is the one the
backup printed. Commands ending in ``&`` start services, waited for on ``/healthz``. For each
command, the lines of the page's output that are verdicts (``VERIFIED``, ``ACCEPTED (...)``,
``REJECTED (failed: status)``, ``all checks passed ...``, ...) must appear in the real output,
with ids, DIDs and times masked; a command whose page output shows a refusal must exit non-zero,
the others zero.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STORIES = ROOT / "docs" / "stories"
PAGES = [
    "README.md",
    "1-onboarding.md",
    "2-issuance.md",
    "3-emergency-card.md",
    "5-insurer-claim.md",
    "8-phone-change.md",
    "9-revocation.md",
]
PORTS = (8100, 8200, 8300, 8301, 8400, 8600)
PHRASE = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){7}\b")
PHRASE_ERE = "[0-9A-Z]{4}(-[0-9A-Z]{4}){7}"
VERDICT = re.compile(
    r"^(VERIFIED|REJECTED(?: \(failed: [a-z, ]+\))?|ACCEPTED \(.+\)|all checks passed.*"
    r"|  - .+|accepted \d+ offer\(s\); \d+ received and stored|job [\w-]+: done, .+"
    r"|presented; consent .+|restored \d+ credential\(s\).+|approved: accredited .+"
    r'|\s*"(accepted|verified)": (true|false),?|\s*"\w+ (passed|failed|skipped)",?)$'
)
MASKS = [
    (re.compile(r"urn:(uuid|sd-jwt|sha256):[0-9a-f-]+"), r"urn:\1:X"),
    (re.compile(r"did:(key|peer:2)[:.][\w.%-]+"), "did:X"),
    (re.compile(r"localhost(%3A|:)\d+"), "localhost:P"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:P"),
    (re.compile(r"\d{4}-\d\d-\d\dT[\d:]+Z"), "T"),
]


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


def _mask(line: str) -> str:
    for pattern, replacement in MASKS:
        line = pattern.sub(replacement, line)
    return line.rstrip()


def _steps() -> list[Step]:
    steps: list[Step] = []
    for page in PAGES:
        text = (STORIES / page).read_text(encoding="utf-8")
        for block in re.findall(r"```console\n(.*?)```", text, flags=re.DOTALL):
            if block.startswith("$ ./dev demo"):
                continue  # the demo itself has tests/demo/test_demo.py
            for line in block.splitlines():
                if line.startswith("$ "):
                    steps.append(Step(line[2:]))
                elif steps and line.strip():
                    steps[-1].expected.append(line)
    return steps


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _script(steps: list[Step], home: Path, logs: Path) -> str:
    ports = {port: _free_port() for port in PORTS}
    lines = [
        "set -u",
        "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT",
        f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH",
    ]
    for index, step in enumerate(steps):
        command = step.command.replace("/tmp/mydata-story", str(home))
        for old, new in ports.items():
            command = re.sub(rf"(?<=[: ]){old}\b", str(new), command)
        command = PHRASE.sub("$PHRASE", command)
        lines.append(f"echo '@@step {index}'")
        if command.endswith("&"):
            port = re.search(r"--port (\d+)", command)
            assert port is not None, command
            lines.append(f"{command[:-1]} > {logs}/{index}.log 2>&1 &")
            lines.append(
                f"for i in $(seq 1 300); do curl -sf -o /dev/null "
                f"http://127.0.0.1:{port.group(1)}/healthz && break; sleep 0.2; done"
            )
            lines.append(f"printf '\\n@@exit {index} 0\\n'")
            continue
        if "wallet backup" in command:
            command += f" | tee {logs}/backup.out; PHRASE=$(grep -oE '{PHRASE_ERE}'"
            command += f" {logs}/backup.out | head -1)"
        lines.append(f"{{ {command} ; }} 2>&1")
        # A newline first: curl's JSON answer ends without one.
        lines.append(f"rc=$?; printf '\\n@@exit {index} %s\\n' $rc")
        if "/offer " in command or "request-presentation" in command:
            lines.append("sleep 3")  # a reader takes longer than this to type the next line
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_the_story_pages_commands_reach_the_verdicts_they_show(tmp_path: Path) -> None:
    steps = _steps()
    assert len(steps) > 40
    home, logs = tmp_path / "home", tmp_path / "logs"
    logs.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYDATA_")}
    env["COLUMNS"] = "120"
    env["MYDATA_DEBUG"] = "1"  # an internal error shows its traceback in the step's output
    result = subprocess.run(
        ["bash", "-c", _script(steps, home, logs)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    outputs: dict[int, list[str]] = {}
    codes: dict[int, int] = {}
    current = -1
    for line in (result.stdout + "\n").splitlines():
        if line.startswith("@@step "):
            current = int(line.split()[1])
            outputs[current] = []
        elif line.startswith("@@exit "):
            _, index, code = line.split()
            codes[int(index)] = int(code)
        elif current >= 0:
            outputs[current].append(_mask(line))
    problems = []
    for index, step in enumerate(steps):
        if index not in codes:
            problems.append(f"never ran: {step.command}\n{result.stderr[-2000:]}")
            break
        verdicts = [_mask(line) for line in step.expected if VERDICT.match(line)]
        refused = any(v.startswith(("REJECTED", "FAILED")) for v in verdicts)
        if (codes[index] != 0) != refused:
            problems.append(
                f"exit {codes[index]}: {step.command}\n" + "\n".join(outputs[index][-40:])
            )
        missing = [v for v in verdicts if v not in outputs[index]]
        if missing:
            problems.append(
                f"missing {missing}: {step.command}\n" + "\n".join(outputs[index][-30:])
            )
    assert problems == [], "\n\n".join(problems)
