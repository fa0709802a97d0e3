"""What ``mydata serve ROLE`` loads before it answers, so that start-up gains cannot regress.

Each role's service is started for real (its app factory and lifespan included) in a
subprocess that writes ``sys.modules`` once ``GET /healthz`` has answered 200. None of the
modules deferred to first use may be there by then (docs/performance.md, "Start-up and
idle memory"): a module-level import added on the start path fails here with the module's name.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import free_port, mydata

pytestmark = pytest.mark.slow

#: Never loaded before a service answers, whatever the role: what each is deferred to.
DEFERRED: dict[str, str] = {
    "pydid": "the first DID document parsed (agent.dids.document)",
    "segno": "the first QR code drawn (agent.messaging.oob, wallet.emergency)",
    "agent.messaging.envelope": "the first DIDComm message (agent.runtime)",
    "agent.messaging.jwe": "the first DIDComm message",
    "agent.messaging.jws": "the first DIDComm message",
    "pygments": "nothing: httpx's command-line client is not imported (mydata.cli)",
    "pyld": "the first RDF canonicalisation or unknown credential shape",
    "rdflib": "the first RDF canonicalisation",
    "PIL": "the first QR image decoded",
    "zxingcpp": "the first QR image decoded",
    "hypothesis": "tests only",
}
#: rich and the error console: only when there is an error to print (mydata.cli, mydata.serve).
CONSOLE = {"rich": "an error to print", "agent.console": "an error to print"}
#: The wallet's service takes its agent store's path and passphrase variable from wallet.api,
#: not from its command line's module (rich's tables, typer's commands, the vault client).
WALLET_DEFERRED = {"wallet.cli": "a `mydata wallet` command", "wallet.vault": "a backup to a vault"}
#: The vault keeps ciphertext: no protocol beyond trust ping and problem reports (the
#: notification protocol comes with the wallet package, whose ``__init__`` loads it all).
VAULT_DEFERRED = {
    "agent.protocols.issuance": "a party that issues or holds",
    "agent.protocols.presentation": "a party that presents or verifies",
}

_PROBE = textwrap.dedent(
    """
    import os, socket, sys, threading, time

    port, out = int(sys.argv[1]), sys.argv[2]

    def poll():
        while True:
            time.sleep(0.05)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                    conn.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n")
                    answer = conn.recv(64)
            except OSError:
                continue
            if b" 200 " in answer:
                names = [n for n, m in list(sys.modules.items()) if m is not None]
                with open(out, "w") as f:
                    f.write("\\n".join(sorted(names)))
                    f.write("\\n#httpx._main=" + repr(sys.modules.get("httpx._main", "absent")))
                os._exit(0)

    threading.Thread(target=poll, daemon=True).start()
    sys.argv = ["mydata", "serve", *sys.argv[3:], "--port", str(port), "--log-level", "warning"]
    from mydata.cli import main

    main()
    """
)

_INIT: dict[str, list[str]] = {
    "hospital": ["--base-url", "http://127.0.0.1:1", "--insecure-http-host", "127.0.0.1"],
    "operator": ["--base-url", "http://127.0.0.1:1"],
    "wallet": [],
}


def _loaded_at_first_answer(role: str, tmp_path: Path) -> tuple[set[str], str]:
    """The modules of ``mydata serve ROLE`` when it first answers, and how ``httpx._main``
    was left (``None``: skipped)."""
    env = {
        **os.environ,
        "MYDATA_HOME": str(tmp_path),
        "MYDATA_ADMIN_TOKEN": "startup-test-admin-token",
        "MYDATA_PASSPHRASE": "startup test passphrase, not a secret",
    }
    store = f"sqlite://{tmp_path}/{role}.sqlite"
    if role in _INIT:
        mydata(role, "init", *_INIT[role], "--store", store, env=env)
    out = tmp_path / "modules.txt"
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(free_port()), str(out), role, "--store", store],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.exists(), f"the {role} service did not answer: {result.stderr[-2000:]}"
    text, _, httpx_main = out.read_text().partition("\n#httpx._main=")
    return set(text.split()), httpx_main


@pytest.mark.parametrize("role", ["hospital", "operator", "vault", "verifier", "wallet"])
def test_a_service_answers_before_loading_what_it_defers(role: str, tmp_path: Path) -> None:
    loaded, httpx_main = _loaded_at_first_answer(role, tmp_path)
    deferred = DEFERRED | CONSOLE
    if role == "vault":
        deferred |= VAULT_DEFERRED
    if role == "wallet":
        deferred |= WALLET_DEFERRED
    early = {
        name: why
        for name, why in deferred.items()
        if name in loaded or any(m.startswith(name + ".") for m in loaded)
    }
    assert early == {}, f"loaded before the first answer, meant for: {early}"
    assert httpx_main == "None", "httpx imported its command-line client"
    if role not in ("wallet", "vault"):
        assert not {m for m in loaded if m == "wallet" or m.startswith("wallet.")}
    assert "typer" in loaded  # the probe ran the real command line


def test_reading_the_serve_command_line_loads_no_web_framework() -> None:
    """``mydata serve wallet`` begins opening the passphrase store (Argon2i) while FastAPI and
    uvicorn load, so nothing before its ``serve`` function may import them; the names it needs
    to read its options come from agent.servenames, and are the services' own."""
    probe = (
        "import sys, mydata.cli, mydata.serve; mydata.cli.build_app(serve_only=True); "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'wallet') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == "[]"
    from agent import observability, servenames, service
    from wallet import api

    assert observability.LogFormat is servenames.LogFormat
    assert service.ADMIN_TOKEN_ENV == servenames.ADMIN_TOKEN_ENV == "MYDATA_ADMIN_TOKEN"
    assert api.PASSPHRASE_ENV == servenames.WALLET_PASSPHRASE_ENV == "MYDATA_PASSPHRASE"


def test_the_vault_size_default_is_the_vaults_own() -> None:
    """``mydata serve`` writes the default out so as not to import wallet.vault for it."""
    from mydata.serve import VAULT_MAX_BYTES_DEFAULT
    from wallet.vault import DEFAULT_MAX_BLOB_BYTES

    assert VAULT_MAX_BYTES_DEFAULT == DEFAULT_MAX_BLOB_BYTES


@pytest.mark.parametrize("package", ["agent.messaging", "agent.protocols"])
def test_a_lazy_package_resolves_every_public_name_to_its_module(package: str) -> None:
    module = importlib.import_module(package)
    sources: dict[str, str] = {
        name: source for source, names in module._SOURCES.items() for name in names
    }
    assert set(sources) == set(module.__all__)
    # A public name that is also a submodule's name (``wallet.backup``, the function) would be
    # replaced by the submodule once something imports it: such a package cannot be lazy.
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    assert not submodules & set(sources)
    for name, source in sources.items():
        assert getattr(module, name) is getattr(
            importlib.import_module(f"{package}.{source}"), name
        )
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        _ = module.not_a_name


def test_the_did_document_class_is_pydids_when_asked_for() -> None:
    import pydid  # type: ignore[import-untyped]

    import agent.dids
    from agent.dids import document

    assert agent.dids.DIDDocument is document.DIDDocument is pydid.DIDDocument
    with pytest.raises(AttributeError, match="no attribute 'NotAClass'"):
        _ = document.NotAClass


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_store_key_made_before_forking_leaves_workers_distinct_randomness() -> None:
    """``mydata serve --workers N`` makes a new store's key in the parent, then forks. askar's
    random generator is per thread and copied by fork: a key drawn from it in the parent gave
    every worker the same stream (the same keys and nonces). ``generate_raw_key`` must not."""
    code = textwrap.dedent(
        """
        import os
        from aries_askar import Key, KeyAlg
        from agent.storage import generate_raw_key

        generate_raw_key()
        read, write = os.pipe()
        children = []
        for _ in range(2):
            pid = os.fork()
            if pid == 0:
                key = Key.generate(KeyAlg.ED25519).get_public_bytes().hex()
                os.write(write, (key + "\\n").encode())
                os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
        os.close(write)
        print(os.read(read, 1000).decode())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    first, second = result.stdout.split()
    assert first != second
