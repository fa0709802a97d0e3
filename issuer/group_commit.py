"""Group commit: concurrent writes coalesced into one store transaction.

Why: every ``POST /credentials/issue`` ends with the same small write (the issuance record and
its audit entry). Done one request at a time, those transactions queue on the store's write
lock (SQLite) or on the audit head's row lock (PostgreSQL, across replicas), and a commit costs
far more than the few inserts in it. :class:`GroupCommit` lets each request submit its item
and wait; one task writes whatever has gathered in one transaction, and while that commits,
the next group gathers. Under load a group holds as many items as arrived during one commit
(at most ``max_group``); a lone request is written at once, so it waits for no timer.

Each submitter learns the outcome of its own item. When a group's transaction fails (it then
wrote nothing), every item of it is written again on its own (``write_one``), so an item that
cannot be written (a duplicate credential id, say) fails alone, with the error it would have
had alone, and the others succeed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Generic, TypeVar

__all__ = ["DEFAULT_MAX_GROUP", "GroupCommit"]

#: Items written per transaction at most: enough to amortise a commit, small enough to keep
#: row locks short.
DEFAULT_MAX_GROUP: Final = 128

_T = TypeVar("_T")

log = logging.getLogger(__name__)


class GroupCommit(Generic[_T]):
    """Writes submitted items in groups, one transaction per group (module docstring).

    :param write_group: writes all of a group's items in one transaction, or raises having
        written none of them.
    :param write_one: writes one item, after its group failed; the error it raises is the
        item's.
    :param max_group: items per group at most.
    """

    def __init__(
        self,
        write_group: Callable[[Sequence[_T]], Awaitable[object]],
        write_one: Callable[[_T], Awaitable[object]],
        *,
        max_group: int = DEFAULT_MAX_GROUP,
    ) -> None:
        if max_group < 1:
            raise ValueError(f"max_group must be at least 1, not {max_group}")
        self._write_group = write_group
        self._write_one = write_one
        self._max_group = max_group
        self._queue: list[tuple[_T, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"GroupCommit(max_group={self._max_group}, queued={len(self._queue)})"

    async def submit(self, item: _T) -> None:
        """Write ``item`` with whatever else is pending; returns once it is committed.

        A submitter cancelled while waiting does not withdraw its item: it is written anyway.

        :raises Exception: what writing this item alone raised.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.append((item, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        group: list[tuple[_T, asyncio.Future[None]]] = []
        try:
            while self._queue:
                group = self._queue[: self._max_group]
                del self._queue[: self._max_group]
                outcomes = await self._write(group)
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if future.done():
                        continue
                    if outcome is None:
                        future.set_result(None)
                    else:
                        future.set_exception(outcome)
                group = []
        finally:
            # Only when this task itself is cancelled (the loop shutting down): nobody is left
            # to write what is pending, so its submitters must not wait forever.
            for _, future in group + self._queue:
                if not future.done():
                    future.cancel()
            self._queue.clear()

    async def _write(self, group: list[tuple[_T, asyncio.Future[None]]]) -> list[Exception | None]:
        items = [item for item, _ in group]
        try:
            await self._write_group(items)
        except Exception:
            log.debug("a group of %d failed; writing its items one by one", len(items))
        else:
            return [None] * len(items)
        outcomes: list[Exception | None] = []
        for item in items:
            try:
                await self._write_one(item)
                outcomes.append(None)
            except Exception as exc:  # handed to the item's submitter
                outcomes.append(exc)
        return outcomes
