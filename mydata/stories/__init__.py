"""DESIGN.md's stories 1, 2, 3, 5, 8 and 9, as ``mydata demo`` runs them against real services.

- :mod:`mydata.stories.world`: the parties as services on 127.0.0.1 (:class:`World`).
- :mod:`mydata.stories.narrate`: what each party sees and decides, printed with rich.
- one module per story: :mod:`~mydata.stories.onboarding` (1), :mod:`~mydata.stories.issuance`
  (2), :mod:`~mydata.stories.emergency` (3), :mod:`~mydata.stories.claim` (5),
  :mod:`~mydata.stories.phone` (8), :mod:`~mydata.stories.revocation` (9).

Each story is ``async def run(world, out, shared)``: it drives the parties through their HTTP
APIs (and, where a party works without a network, through its library), prints what each
one sees, and states every decision as a ``decision:`` line that ``tests/demo`` checks.
"""
