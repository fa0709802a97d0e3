"""Fixtures for the batch job tests: a moving clock (stores: tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import TickingClock


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()
