"""askar's runtime threads (``agent.storage.configure_runtime``) and list-valued tags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.errors import InvalidInputError
from agent.storage import RUNTIME_THREADS, Store, configure_runtime, single_valued

VARIABLE = "TOKIO_WORKER_THREADS"


def test_an_unset_variable_gets_this_projects_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    assert configure_runtime() == RUNTIME_THREADS == 1
    assert os.environ[VARIABLE] == "1"


def test_a_value_the_operator_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "3")
    assert configure_runtime() == 3
    assert os.environ[VARIABLE] == "3"


@pytest.mark.parametrize("value", ["", "0", "-1", "two", "1.5", " 2", "2\n", "\u00b2", "9999999"])
def test_a_bad_value_is_refused_before_askar_aborts_on_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(VARIABLE, value)
    with pytest.raises(InvalidInputError, match=VARIABLE) as caught:
        configure_runtime()
    assert caught.value.details == {"variable": VARIABLE}
    assert os.environ[VARIABLE] == value


def test_the_command_says_what_is_wrong_instead_of_a_rust_panic() -> None:
    mydata = Path(sys.executable).with_name("mydata")
    result = subprocess.run(
        [str(mydata), "hospital", "--help"],
        env={**os.environ, VARIABLE: ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "TOKIO_WORKER_THREADS" in result.stderr
    assert "[invalidInput]" in result.stderr
    assert "panicked" not in result.stderr


async def test_a_list_valued_tag_finds_the_record_by_each_value(store: Store) -> None:
    async with store.transaction() as txn:
        await txn.insert("group", "one", {"n": 1}, tags={"id": ["b", "a", "c"], "kind": "x"})
        await txn.insert("group", "two", {"n": 2}, tags={"id": ["d"], "kind": "x"})
        await txn.commit()
    async with store.session() as session:
        for value, expected in (("a", ["one"]), ("c", ["one"]), ("d", ["two"]), ("z", [])):
            found = await session.fetch_all("group", {"id": value})
            assert [record.name for record in found] == expected, value
        either = await session.fetch_all("group", {"id": {"$in": ["c", "d"]}})
        assert sorted(record.name for record in either) == ["one", "two"]
        one = await session.fetch("group", "one")
    assert one is not None
    assert one.tags == {"id": ["a", "b", "c"], "kind": "x"}
    assert single_valued(one.tags) == {"kind": "x"}


def test_contention_is_a_lost_race_or_a_busy_store_and_nothing_else() -> None:
    from agent.errors import ErrorCode, StorageError
    from agent.storage import is_contention

    assert is_contention(StorageError("taken first", code=ErrorCode.STORE_DUPLICATE))
    assert is_contention(StorageError("busy", details={"askarCode": "BUSY"}))
    assert not is_contention(StorageError("wrong key", code=ErrorCode.STORE_WRONG_KEY))
    assert not is_contention(StorageError("backend", details={"askarCode": "BACKEND"}))
