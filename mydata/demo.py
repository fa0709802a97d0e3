"""``mydata demo``: DESIGN.md's stories 1, 2, 3, 5, 8 and 9 end to end, against real services.

On embedded SQLite stores in a temporary folder, the public operator, a hospital, the citizen's
wallet, an emergency department, an insurer and the backup vault run as HTTP services on
127.0.0.1 (:mod:`mydata.stories.world`), and the stories (:mod:`mydata.stories`) drive them:

1. onboarding: the hospital's keys and did:web, DID-auth registration, accreditation, the
   trust list verifiers load;
2. issuance: out-of-band invitation, DIDComm connection, offer and acceptance, the wallet's
   encrypted store; a batch for a patient list;
3. the emergency card in one QR code, verified offline with the ages of the data used;
5. the insurer's claim: exactly the claim type's fields, a nonce, a duplicate flagged;
8. phone change: encrypted backup in the vault, restore, holder binding proves again;
9. revocation and suspension, seen online at once and offline after the next sync.

Every verdict is printed as a ``decision:`` line. The folder, the services and their threads
are gone when the command returns, also after a failure or Ctrl-C (``--keep`` keeps the
folder).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.console import stdout_console
from mydata.stories import claim, emergency, issuance, onboarding, phone, revocation
from mydata.stories.narrate import Narrator, Shared
from mydata.stories.world import World

__all__ = ["register", "run_demo"]

Story = Callable[[World, Narrator, Shared], Awaitable[None]]

#: (number in DESIGN.md section 5, name, the story), in the order they run
STORIES: tuple[tuple[int, str, Story], ...] = (
    (1, "onboarding", onboarding.run),
    (2, "issuance", issuance.run),
    (3, "emergency card", emergency.run),
    (5, "insurer claim", claim.run),
    (8, "phone change", phone.run),
    (9, "revocation", revocation.run),
)


async def _start_data_users(world: World, shared: Shared) -> None:
    """The citizen's wallet, the vault, and the verifiers configured with the operator's DID
    and the trust list they synced in story 1."""
    operators = frozenset({shared.operator_did}) if shared.operator_did else frozenset()
    await world.start_wallet()
    await world.start_vault()
    await world.start_verifier(
        "er",
        label="City ER",
        role="emergency",
        purpose="emergency care",
        operator_dids=operators,
        trust_cache=shared.trust_cache,
    )
    await world.start_verifier(
        "insurer",
        label="Demo Insurance",
        role="insurer",
        purpose="insurance claim",
        operator_dids=operators,
        trust_cache=shared.trust_cache,
    )


async def run_demo(console: Console, workdir: Path) -> bool:
    """Run every story in ``workdir``; True when every party decided as expected."""
    started = time.perf_counter()
    out = Narrator(console)
    shared = Shared()
    world = World(console, workdir)
    timings: list[tuple[int, str, float, bool]] = []
    try:
        await world.start_operator(title="Health Trust Operator", jurisdiction="NO")
        for number, name, story in STORIES:
            begun = time.perf_counter()
            try:
                await story(world, out, shared)
                stopped = False
            except Exception as exc:
                out.failed(exc)
                stopped = True
            timings.append(
                (number, name, time.perf_counter() - begun, not out.failures.get(f"story {number}"))
            )
            if stopped and number <= 2:
                break  # the later stories need the accreditation and the credentials
            if number == 1:
                await _start_data_users(world, shared)
    finally:
        await world.close()

    console.print()
    table = Table("story", "", "result", "seconds", title="summary")
    for number, name, seconds, ok in timings:
        table.add_row(
            str(number), name, "[green]as expected[/]" if ok else "[red]FAILED[/]", f"{seconds:.1f}"
        )
    console.print(table)
    ok = out.ok and len(timings) == len(STORIES)
    verdict = "[bold green]demo finished[/]" if ok else "[bold red]demo FAILED[/]"
    console.print(f"{verdict} in {time.perf_counter() - started:.1f} s")
    return ok


def register(app: typer.Typer) -> None:

    @app.command("demo")
    def demo(
        keep: Annotated[
            bool, typer.Option(help="Keep the temporary folder with the stores and files.")
        ] = False,
    ) -> None:
        """Run DESIGN.md's stories 1, 2, 3, 5, 8 and 9 end to end against real services on
        127.0.0.1, on SQLite stores in a temporary folder."""
        console = stdout_console()
        workdir = Path(tempfile.mkdtemp(prefix="mydata-demo-"))
        console.print(f"[bold]health-mydata demo[/] working in {workdir}")
        ok = False
        try:
            ok = asyncio.run(run_demo(console, workdir))
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/]: services stopped")
            raise typer.Exit(130) from None
        finally:
            if keep:
                console.print(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        raise typer.Exit(0 if ok else 1)
