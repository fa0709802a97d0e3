"""Two replicas of the hospital and of the verifier on one PostgreSQL each, under concurrent
bounded load on 127.0.0.1 (bench/replicas_load.py with small numbers; the full run is
``python -m bench.replicas_load``).

Already covered elsewhere and not repeated: status indexes unique under concurrent issuance
(tests/hospital/test_replicas.py), nonce single use and duplicate claims on two verifier
processes (tests/verifier/test_verifier_replicas.py). Added here: revocations through both
replicas at once on the same lists lose no update, and both load shapes in one bounded run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.replicas_load import hospital_load, verifier_load
from tests.conftest import POSTGRES_URL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not POSTGRES_URL, reason="replica tests need MYDATA_TEST_POSTGRES_URL (.ci/run sets it)"
    ),
]


def test_hospital_replicas_issue_and_revoke_concurrently(tmp_path: Path) -> None:
    figures = hospital_load(POSTGRES_URL, tmp_path, credentials=24, workers=6)
    assert figures["credentials"] == 24
    assert figures["revocations"] == 12


def test_verifier_replicas_nonces_and_claims_concurrently(tmp_path: Path) -> None:
    figures = verifier_load(POSTGRES_URL, tmp_path, nonces=4, submissions=3, claims=4, workers=6)
    assert figures["submissions"] == 12
