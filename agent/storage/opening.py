"""A store being opened on a thread of its own, begun before a service has loaded.

Why: a store opened with a passphrase derives its key with Argon2i (``kdf:argon2i:mod``, about
half a second here, by design), and a service cannot answer before its store is open. Begun as
soon as the command line is read, the derivation (askar's native code, outside the GIL)
overlaps the import of the web framework, the building of the app and uvicorn's start instead
of following them: ``mydata serve wallet`` answered in 0.90 s instead of 1.03 s
(docs/performance-history.md, fourth pass).

The thread runs the open on an event loop of its own; the store is then used from the
service's loop (askar binds each call to the loop that makes it, not to the store).
:meth:`StoreOpening.store` raises what :func:`agent.storage.open_store` raised, so a wrong
passphrase still fails the service's start-up at the same point. Not a daemon thread: a
process that exits before its service starts waits for askar to finish rather than leave it
calling back into a finalising interpreter.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

from agent.storage.askar import Store, open_store

__all__ = ["StoreOpening"]


class StoreOpening:
    """:func:`agent.storage.open_store` with these arguments, begun now on a thread.

    :param name: the thread's name, for diagnostics.
    """

    def __init__(
        self,
        uri: str,
        *,
        passphrase: str | None = None,
        raw_key: str | None = None,
        profile: str | None = None,
        create: bool = True,
        name: str = "store-open",
    ) -> None:
        self._uri = uri
        self._passphrase = passphrase
        self._raw_key = raw_key
        self._profile = profile
        self._create = create
        self._future: concurrent.futures.Future[Store] = concurrent.futures.Future()
        self._taken = False
        threading.Thread(target=self._open, name=name).start()

    def __repr__(self) -> str:
        return f"StoreOpening(profile={self._profile!r}, taken={self._taken})"

    def _open(self) -> None:
        try:
            store = asyncio.run(
                open_store(
                    self._uri,
                    passphrase=self._passphrase,
                    raw_key=self._raw_key,
                    profile=self._profile,
                    create=self._create,
                )
            )
        except BaseException as exc:  # handed to whoever takes the store, who raises it
            self._future.set_exception(exc)
        else:
            self._future.set_result(store)
        finally:
            self._passphrase = self._raw_key = None  # not kept once used

    async def store(self) -> Store | None:
        """The opened store, once; ``None`` when it was taken already (a second start-up of
        the same app opens its store again, as one without an opening does).

        :raises agent.errors.StorageError: as :func:`agent.storage.open_store`.
        """
        if self._taken:
            return None
        self._taken = True
        return await asyncio.wrap_future(self._future)
