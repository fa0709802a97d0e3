"""agent.storage on askar: opening, secrets, CRUD, transactions, tag queries, profiles."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.errors import ErrorCode, InvalidInputError, StorageError
from agent.storage import Record, Store, generate_raw_key, open_store
from agent.storage.askar import _normalise_uri


async def test_passphrase_store_reopens_only_with_its_passphrase(store_uri: str) -> None:
    # Argon2 "mod" costs about a second per open, so one test covers provision, the wrong
    # passphrase and the right one.
    async with (
        await open_store(store_uri, passphrase="correct horse") as store,
        store.session() as session,
    ):
        await session.insert("note", "n1", {"text": "hello"})

    with pytest.raises(StorageError) as caught:
        await open_store(store_uri, passphrase="wrong horse", create=False)
    assert caught.value.code is ErrorCode.STORE_WRONG_KEY
    assert "check the passphrase" in caught.value.message

    async with (
        await open_store(store_uri, passphrase="correct horse", create=False) as store,
        store.session() as session,
    ):
        assert (await session.get("note", "n1")).json() == {"text": "hello"}


async def test_raw_key_store_reopens_and_refuses_another_key(store_uri: str, raw_key: str) -> None:
    async with (
        await open_store(store_uri, raw_key=raw_key) as store,
        store.session() as session,
    ):
        await session.insert("note", "n1", b"raw bytes")

    for create in (True, False):
        with pytest.raises(StorageError) as caught:
            await open_store(store_uri, raw_key=generate_raw_key(), create=create)
        assert caught.value.code is ErrorCode.STORE_WRONG_KEY
        assert "check the raw key" in caught.value.message

    async with (
        await open_store(store_uri, raw_key=raw_key, create=False) as store,
        store.session() as session,
    ):
        assert (await session.get("note", "n1")).value == b"raw bytes"


async def test_store_made_with_a_raw_key_refuses_a_passphrase(store_uri: str, raw_key: str) -> None:
    await (await open_store(store_uri, raw_key=raw_key)).close()
    with pytest.raises(StorageError) as caught:
        await open_store(store_uri, passphrase="anything", create=False)
    assert caught.value.code is ErrorCode.STORE_WRONG_KEY


async def test_missing_store_is_not_created_without_create(store_uri: str, raw_key: str) -> None:
    with pytest.raises(StorageError) as caught:
        await open_store(store_uri, raw_key=raw_key, create=False)
    assert caught.value.code is ErrorCode.STORE_NOT_FOUND


async def test_open_needs_exactly_one_secret(tmp_path: Path) -> None:
    uri = str(tmp_path / "w.db")
    with pytest.raises(InvalidInputError):
        await open_store(uri)
    with pytest.raises(InvalidInputError):
        await open_store(uri, passphrase="p", raw_key=generate_raw_key())
    with pytest.raises(InvalidInputError):
        await open_store(uri, passphrase="")


async def test_bare_path_means_sqlite_and_other_schemes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bare.db"
    async with await open_store(path, raw_key=generate_raw_key()) as store:
        assert store.uri == f"sqlite://{path}"
    assert path.exists()
    with pytest.raises(InvalidInputError):
        await open_store("mysql://localhost/db", raw_key=generate_raw_key())


def test_postgres_password_is_masked_and_postgresql_scheme_accepted() -> None:
    askar_uri, shown = _normalise_uri("postgresql://alice:s3cret@db.example:5432/wallet")
    assert askar_uri == "postgres://alice:s3cret@db.example:5432/wallet"
    assert shown == "postgres://alice:***@db.example:5432/wallet"


async def test_missing_directory_is_a_backend_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as caught:
        await open_store(tmp_path / "no" / "such" / "dir.db", raw_key=generate_raw_key())
    assert caught.value.code is ErrorCode.STORE_BACKEND_ERROR


async def test_in_memory_sqlite_works_for_tests() -> None:
    async with (
        await open_store("sqlite://:memory:", raw_key=generate_raw_key()) as store,
        store.session() as session,
    ):
        await session.insert("note", "n1", [1, 2, 3])
        assert (await session.get("note", "n1")).json() == [1, 2, 3]


async def test_crud(store: Store) -> None:
    async with store.session() as session:
        await session.insert("note", "n1", {"text": "héllo"}, {"kind": "a"})
        await session.insert("blob", "b1", b"\x00\x01")

        record = await session.get("note", "n1")
        assert record == Record("note", "n1", '{"text":"héllo"}'.encode(), {"kind": "a"})
        assert record.json() == {"text": "héllo"}
        assert (await session.fetch("blob", "b1")) == Record("blob", "b1", b"\x00\x01", {})
        assert await session.fetch("note", "missing") is None

        await session.replace("note", "n1", {"text": "bye"}, {"kind": "b"})
        record = await session.get("note", "n1")
        assert (record.json(), record.tags) == ({"text": "bye"}, {"kind": "b"})

        await session.remove("note", "n1")
        assert await session.fetch("note", "n1") is None

        for operation in (
            session.get("note", "n1"),
            session.replace("note", "n1", {}),
            session.remove("note", "n1"),
        ):
            with pytest.raises(StorageError) as caught:
                await operation
            assert caught.value.code is ErrorCode.STORE_RECORD_NOT_FOUND

        with pytest.raises(InvalidInputError):
            (await session.get("blob", "b1")).json()
        with pytest.raises(InvalidInputError):
            await session.insert("note", "bad", {"not": object()})


async def test_duplicate_insert(store: Store) -> None:
    async with store.session() as session:
        await session.insert("note", "n1", {"v": 1})
        with pytest.raises(StorageError) as caught:
            await session.insert("note", "n1", {"v": 2})
        assert caught.value.code is ErrorCode.STORE_DUPLICATE
        assert (await session.get("note", "n1")).json() == {"v": 1}


async def test_transaction_commits_or_discards(store: Store) -> None:
    async with store.transaction() as txn:
        await txn.insert("note", "kept", 1)
        await txn.insert("note", "kept-too", 2)
        await txn.commit()

    async with store.transaction() as txn:
        await txn.insert("note", "left-without-commit", 3)

    async def fail_inside_transaction() -> None:
        async with store.transaction() as txn:
            await txn.insert("note", "failed", 4)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_inside_transaction()

    async with store.transaction() as txn:
        await txn.insert("note", "rolled-back", 5)
        await txn.rollback()
        with pytest.raises(StorageError) as caught:
            await txn.insert("note", "after-rollback", 6)
        assert caught.value.code is ErrorCode.STORE_BACKEND_ERROR

    async with store.session() as session:
        names = sorted(record.name for record in await session.fetch_all("note"))
        assert names == ["kept", "kept-too"]
        with pytest.raises(StorageError):
            await session.commit()


async def test_tag_queries(store: Store) -> None:
    async with store.transaction() as txn:
        for i, status in enumerate(["active", "suspended", "revoked", "active", "active"]):
            await txn.insert("cred", f"c{i}", {"i": i}, {"status": status, "~num": f"{i:03d}"})
        await txn.insert("other", "x", {}, {"status": "active"})
        await txn.commit()

    async with store.session() as session:

        async def names(tag_filter: dict[str, object] | None, **kwargs: object) -> list[str]:
            return [r.name for r in await session.fetch_all("cred", tag_filter, **kwargs)]  # type: ignore[arg-type]

        assert sorted(await names({"status": "active"})) == ["c0", "c3", "c4"]
        assert sorted(await names({"status": {"$in": ["suspended", "revoked"]}})) == ["c1", "c2"]
        assert sorted(await names({"$or": [{"status": "revoked"}, {"~num": "004"}]})) == [
            "c2",
            "c4",
        ]
        assert sorted(await names({"$not": {"status": "active"}})) == ["c1", "c2"]
        assert sorted(await names({"~num": {"$gte": "003"}})) == ["c3", "c4"]
        assert await names(None, order_by="id", descending=True, limit=2) == ["c4", "c3"]
        assert await session.count("cred", {"status": "active"}) == 3
        assert await session.count("cred") == 5

        # A range on an encrypted tag would silently return garbage: refused up front.
        with pytest.raises(StorageError) as caught:
            await session.fetch_all("cred", {"$and": [{"status": {"$gt": "a"}}]})
        assert caught.value.code is ErrorCode.INVALID_INPUT
        assert "~status" in caught.value.message

        assert await session.remove_all("cred", {"status": "active"}) == 3
        assert await session.count("cred") == 2


async def test_expired_records_are_not_returned(store: Store) -> None:
    async with store.session() as session:
        await session.insert("otp", "o1", "123456", expiry_ms=1)
        await asyncio.sleep(0.05)
        assert await session.fetch("otp", "o1") is None


async def test_profiles_isolate_records(store_uri: str, raw_key: str) -> None:
    async with await open_store(store_uri, raw_key=raw_key) as store:
        assert await store.create_profile("child") == "child"
        async with store.session() as parent:
            await parent.insert("note", "n1", "parent's")
        async with store.session("child") as child:
            await child.insert("note", "n1", "child's")
            assert [r.json() for r in await child.fetch_all("note")] == ["child's"]
        async with store.session() as parent:
            assert [r.json() for r in await parent.fetch_all("note")] == ["parent's"]

        with pytest.raises(StorageError) as caught:
            await store.create_profile("child")
        assert caught.value.code is ErrorCode.STORE_DUPLICATE
        with pytest.raises(StorageError) as caught:
            async with store.session("nobody"):
                pass
        assert caught.value.code is ErrorCode.STORE_NOT_FOUND
        assert "child" in await store.list_profiles()

    async with await open_store(store_uri, raw_key=raw_key, profile="child") as store:
        assert not store.profile_created  # it was there already
        assert store.profile == "child"
        async with store.session() as session:
            assert (await session.get("note", "n1")).json() == "child's"
        await store.remove_profile("child")
        assert "child" not in await store.list_profiles()

    with pytest.raises(StorageError) as caught:
        await open_store(store_uri, raw_key=raw_key, profile="child", create=False)
    assert caught.value.code is ErrorCode.STORE_NOT_FOUND

    async with await open_store(store_uri, raw_key=raw_key, profile="fresh") as store:
        assert store.profile_created  # this open made it (a failed restore removes it again)


async def test_closed_store_raises_a_typed_error(store_uri: str, raw_key: str) -> None:
    store = await open_store(store_uri, raw_key=raw_key)
    await store.close()
    await store.close()  # Closing twice is harmless.
    with pytest.raises(StorageError) as caught:
        async with store.session():
            pass
    assert caught.value.code is ErrorCode.STORE_BACKEND_ERROR


async def _increment(store: Store, times: int) -> None:
    for _ in range(times):
        async with store.transaction() as txn:
            record = await txn.get("counter", "c", for_update=True)
            await txn.replace("counter", "c", record.json() + 1)
            await txn.insert("event", f"{id(store)}-{record.json()}", {})
            await txn.commit()


async def test_concurrent_increments_lose_no_update(store_uri: str, raw_key: str) -> None:
    first = await open_store(store_uri, raw_key=raw_key)
    second = await open_store(store_uri, raw_key=raw_key, create=False)
    try:
        async with first.session() as session:
            await session.insert("counter", "c", 0)
        await asyncio.gather(_increment(first, 25), _increment(second, 25))
        async with second.session() as session:
            assert (await session.get("counter", "c")).json() == 50
            assert await session.count("event") == 50
    finally:
        await second.close()
        await first.close()


async def test_a_cancelled_transaction_rolls_back_and_reports_the_cancellation(
    store: Store,
) -> None:
    """A task cancelled in the middle of a store call: the caller sees the cancellation (not a
    "busy" error from closing a session the abandoned call still holds), the transaction's
    writes are discarded, and the store goes on working."""
    started = asyncio.Event()

    async def write_many() -> None:
        async with store.transaction() as txn:
            for index in range(100_000):
                await txn.insert("bulk", f"r{index}", {"index": index})
                started.set()
            await txn.commit()

    for _ in range(5):  # the cancellation lands at a different point each time
        task = asyncio.create_task(write_many())
        await started.wait()
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        started.clear()
        async with store.session() as session:
            assert await session.count("bulk") == 0
    async with store.transaction() as txn:
        await txn.insert("bulk", "after", {"index": -1})
        await txn.commit()
    async with store.session() as session:
        assert await session.count("bulk") == 1
