"""``mydata serve`` refuses unsafe or unusable start-up input at once, with exit 2 and one
readable line (docs/operations.md, "Start-up failures and exit codes"), instead of serving an
open admin API, listening on a wrapped-around port or retrying a refused URL forever; and a
hospital or operator started on a store that does not exist leaves no empty store behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.service import AgentServiceConfig, admin_guard
from agent.storage import generate_raw_key
from tests.conftest import MYDATA, free_port, stop_process, wait_healthy
from tests.operations.conftest import SERVICES, build_app

TOKEN = "refusals-admin-token-0123456789"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("MYDATA_ADMIN_TOKEN", "MYDATA_STORE_KEY")
    }
    return {**env, "MYDATA_HOME": str(home), **extra}


def _serve(
    *args: str, env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run ``mydata serve ARGS``; a refusal ends it long before ``timeout`` (which would mean
    it started serving: the test then fails on TimeoutExpired)."""
    return subprocess.run(
        [MYDATA, "serve", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


# --- --admin-insecure-mode ----------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.org"])
def test_insecure_admin_mode_on_a_network_interface_is_refused(tmp_path: Path, host: str) -> None:
    started = time.monotonic()
    result = _serve(
        "operator",
        "--host",
        host,
        "--port",
        str(free_port()),
        "--admin-insecure-mode",
        env=_env(tmp_path),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "loopback" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 15


def test_insecure_admin_mode_with_a_token_set_is_refused(tmp_path: Path) -> None:
    result = _serve(
        "operator",
        "--port",
        str(free_port()),
        "--admin-insecure-mode",
        env=_env(tmp_path, MYDATA_ADMIN_TOKEN=TOKEN),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "give one or the other" in result.stderr
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.1", False),
        ("localhost.example.org", False),
        ("ward.localhost", True),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    from agent.servenames import is_loopback

    assert is_loopback(host) is loopback


def test_insecure_admin_mode_on_loopback_still_starts(tmp_path: Path) -> None:
    """The refusals do not take the local-testing mode away: a verifier (which makes its own
    store) answers on 127.0.0.1 with no token; and Ctrl-C (SIGINT) to one worker stops it
    with exit 130, as the table in docs/operations.md says."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [MYDATA, "serve", "verifier", "--port", str(port), "--admin-insecure-mode",
             "--store", f"sqlite://{tmp_path / 'verifier.sqlite'}"],
            env=_env(tmp_path), stdout=out, stderr=subprocess.STDOUT, text=True,
            # SIGINT as from a terminal (a background job of a script would ignore it)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
    try:
        wait_healthy(port, process, log)
        assert httpx.get(f"http://127.0.0.1:{port}/admin/connections").status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        stop_process(process)


def test_ctrl_c_stops_every_worker_cleanly(tmp_path: Path) -> None:
    """Ctrl-C in a terminal sends SIGINT to the whole process group: the parent and every
    worker. That is a graceful stop, not a crash: exit 0 (docs/operations.md), no worker
    reported as failed, no traceback."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [MYDATA, "serve", "verifier", "--port", str(port), "--admin-insecure-mode",
             "--workers", "2", "--store", f"sqlite://{tmp_path / 'verifier.sqlite'}"],
            env=_env(tmp_path), stdout=out, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )  # fmt: skip
    try:
        wait_healthy(port, process, log)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        stop_process(process)
    text = log.read_text()
    assert "Traceback" not in text
    assert "failed" not in text
    assert "KeyboardInterrupt" not in text
    # Each worker ran its lifespan's shutdown (the store closed): the terminal's SIGINT and the
    # parent's forwarded signal together used to be uvicorn's forced exit, which skips it.
    assert text.count("Application shutdown complete") == 2, text


def test_admin_guard_refuses_insecure_mode_with_a_token() -> None:
    with pytest.raises(ValueError, match="give one or the other"):
        admin_guard(TOKEN, insecure=True)
    admin_guard(None, insecure=True)  # local testing, no token: allowed
    admin_guard(TOKEN, insecure=False)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("where", ["config", "environment"])
def test_no_service_builds_an_open_admin_api_over_a_set_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: str, where: str
) -> None:
    """An embedding program asking for insecure admin mode while a token is set (in the
    config or in ``MYDATA_ADMIN_TOKEN``) gets an error, for every party's app builder."""
    import tests.operations.conftest as ops

    original = ops.config

    def insecure_config(store_uri: str, store_key: str, **extra: Any) -> AgentServiceConfig:
        made = original(store_uri, store_key, insecure_admin=True, **extra)
        if where == "environment":
            monkeypatch.setenv("MYDATA_ADMIN_TOKEN", TOKEN)
            return replace(made, admin_token=None)
        return made

    monkeypatch.setattr(ops, "config", insecure_config)
    with pytest.raises(ValueError, match="give one or the other"):
        build_app(service, tmp_path, generate_raw_key())


# --- option values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "99999"],
        ["--port", "65536"],
        ["--port", "0"],
        ["--port", "-1"],
        ["--workers", "0"],
        ["--workers", "-3"],
        # was an "internal error" (exit 70) from the logging module (QA)
        ["--log-level", "bogus"],
    ],
)
def test_out_of_range_option_values_are_bad_options(tmp_path: Path, args: list[str]) -> None:
    result = _serve("operator", *args, env=_env(tmp_path, MYDATA_ADMIN_TOKEN=TOKEN))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Invalid value for" in result.stderr


def test_a_missing_tls_file_is_named(tmp_path: Path) -> None:
    """It was "No such file or directory", without saying which of the two (QA)."""
    key = tmp_path / "server.key"
    key.write_text("not read: the certificate is refused first")
    result = _serve(
        "operator", "--port", str(free_port()),
        "--ssl-certfile", str(tmp_path / "missing.pem"), "--ssl-keyfile", str(key),
        env=_env(tmp_path, MYDATA_ADMIN_TOKEN=TOKEN),
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"--ssl-certfile {tmp_path / 'missing.pem'}" in " ".join(result.stderr.split())


def test_plain_http_operator_url_is_refused_at_start(tmp_path: Path) -> None:
    result = _serve(
        "verifier", "--port", str(free_port()),
        "--operator", "did:web:operator.example", "--operator-url", "http://127.0.0.1:28100",
        env=_env(tmp_path, MYDATA_ADMIN_TOKEN=TOKEN),
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--operator-url http://127.0.0.1:28100 uses http" in result.stderr
    assert "--insecure-http-host 127.0.0.1" in result.stderr
    assert not (tmp_path / "verifier.sqlite").exists()  # stopped before anything started


@pytest.mark.parametrize("url", ["ftp://operator.example", "operator.example", "https://"])
def test_operator_url_that_is_not_http_is_refused(tmp_path: Path, url: str) -> None:
    result = _serve(
        "verifier", "--operator", "did:web:operator.example", "--operator-url", url,
        env=_env(tmp_path, MYDATA_ADMIN_TOKEN=TOKEN),
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not an http(s) URL" in result.stderr


def test_operator_url_without_operator_is_a_command_line_error(tmp_path: Path) -> None:
    result = _serve(
        "verifier", "--operator-url", "https://operator.example",
        env=_env(tmp_path, MYDATA_ADMIN_TOKEN=TOKEN),
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "belongs to an --operator" in result.stderr


def test_allowed_plain_http_operator_url_passes_the_check() -> None:
    from mydata.serve import _check_command_line

    _check_command_line(
        host="127.0.0.1",
        admin_insecure_mode=False,
        operator=["did:web:operator.example"],
        operator_url=["http://127.0.0.1:28100"],
        insecure_hosts=frozenset({"127.0.0.1"}),
    )


# --- a store that does not exist -------------------------------------------------------------


@pytest.mark.parametrize("role", ["hospital", "operator"])
def test_missing_store_is_refused_and_nothing_is_left_behind(tmp_path: Path, role: str) -> None:
    store = tmp_path / "typo.sqlite"
    result = _serve(
        role, "--port", str(free_port()), "--store", f"sqlite://{store}",
        env=_env(tmp_path, MYDATA_ADMIN_TOKEN=TOKEN, MYDATA_STORE_KEY=generate_raw_key()),
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "storeNotFound" in output
    assert f"run 'mydata {role} init' first" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == [], output


# --- selftest and docs api ------------------------------------------------------------------


@pytest.mark.parametrize("timeout", ["-5", "0", "nan"])
def test_selftest_refuses_a_timeout_that_is_not_positive(tmp_path: Path, timeout: str) -> None:
    result = subprocess.run(
        [MYDATA, "selftest", "--timeout", timeout, "https://hospital.example"],
        env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--timeout" in result.stderr


@pytest.mark.parametrize("url", ["notaurl", "ftp://hospital.example", "https://"])
def test_selftest_refuses_a_url_that_is_not_http(tmp_path: Path, url: str) -> None:
    result = subprocess.run(
        [MYDATA, "selftest", url], env=_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not an http(s) URL" in result.stderr


def test_docs_api_check_outside_the_repository_says_the_folder_is_missing(tmp_path: Path) -> None:
    result = subprocess.run(
        [MYDATA, "docs", "api", "--check"],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "docs/api was not found" in result.stderr
    assert "out of date" not in result.stderr
    assert list(tmp_path.iterdir()) == []
