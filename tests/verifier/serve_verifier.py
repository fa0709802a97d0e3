"""Run a verifier service for the tests: ``python -m tests.verifier.serve_verifier``.

Configured by environment variables (``mydata serve verifier`` is wired by the lead; this keeps
the tests independent of it): ``VERIFIER_STORE``, ``VERIFIER_KEY``, ``VERIFIER_PORT``,
``VERIFIER_OPERATORS`` (comma-separated), ``VERIFIER_TRUST_CACHE``, ``VERIFIER_PURPOSE``,
``VERIFIER_ROLE``, ``MYDATA_ADMIN_TOKEN``.
"""

from __future__ import annotations

import os
from pathlib import Path

import uvicorn

from agent.service import AgentServiceConfig
from verifier.api import VerifierSettings, create_verifier_app


def main() -> None:
    port = int(os.environ["VERIFIER_PORT"])
    config = AgentServiceConfig(
        store_uri=os.environ["VERIFIER_STORE"],
        store_key=os.environ["VERIFIER_KEY"],
        public_url=f"http://127.0.0.1:{port}",
        title="health-mydata verifier (test)",
    )
    operators = frozenset(filter(None, os.environ.get("VERIFIER_OPERATORS", "").split(",")))
    cache = os.environ.get("VERIFIER_TRUST_CACHE")
    settings = VerifierSettings(
        operator_dids=operators,
        trust_cache=Path(cache) if cache else None,
        purpose=os.environ.get("VERIFIER_PURPOSE") or None,
        default_role=os.environ.get("VERIFIER_ROLE", "generic"),
        insecure_http_hosts=frozenset(
            filter(None, os.environ.get("VERIFIER_INSECURE_HOSTS", "").split(","))
        ),
    )
    app = create_verifier_app(config, settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
