"""The HTTP API reference in docs/api/ is what ``mydata docs api`` generates from the services'
own OpenAPI now: a route changed without regenerating it fails here."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mydata.apidocs import ServiceApi, collect, openapi_gaps, render, render_role
from mydata.cli import build_app
from tests.conftest import MYDATA

DOCS_API = Path(__file__).resolve().parents[2] / "docs" / "api"


@pytest.fixture(scope="module")
def apis() -> dict[str, ServiceApi]:
    return {api.role: api for api in collect()}


def test_the_committed_reference_matches_the_code() -> None:
    result = subprocess.run(
        [MYDATA, "docs", "api", "--check", "--out", str(DOCS_API)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"{result.stderr}\nthe API reference is out of date: run `./dev mydata docs api`"
    )


def test_check_names_each_file_out_of_date(tmp_path: Path) -> None:
    app = build_app()
    runner = CliRunner()
    written = runner.invoke(app, ["docs", "api", "--out", str(tmp_path)])
    assert written.exit_code == 0, written.output
    assert runner.invoke(app, ["docs", "api", "--check", "--out", str(tmp_path)]).exit_code == 0

    (tmp_path / "hospital.md").write_text("edited by hand\n", encoding="utf-8")
    (tmp_path / "vault.openapi.json").unlink()
    (tmp_path / "gone.openapi.json").write_text("{}\n", encoding="utf-8")
    checked = runner.invoke(app, ["docs", "api", "--check", "--out", str(tmp_path)])

    assert checked.exit_code == 1
    named = " ".join(checked.output.split())
    for name in ("hospital.md", "vault.openapi.json", "gone.openapi.json"):
        assert name in named
    assert "wallet.md" not in named
    assert (tmp_path / "hospital.md").read_text(encoding="utf-8") == "edited by hand\n"


def test_each_document_is_the_service_openapi_with_sorted_keys(
    apis: dict[str, ServiceApi],
) -> None:
    files = render(apis.values())
    assert set(files) == {"README.md"} | {
        f"{role}.{ext}" for role in apis for ext in ("md", "openapi.json")
    }
    for role, api in apis.items():
        text = files[f"{role}.openapi.json"]
        assert json.loads(text) == api.schema
        assert text == json.dumps(api.schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert api.schema["info"]["title"] == f"health-mydata {role}"
        assert f"[{role}.md]({role}.md)" in files["README.md"]


def test_auth_comes_from_the_routes(apis: dict[str, ServiceApi]) -> None:
    assert apis["hospital"].auth[("post", "/credentials/issue")] == "admin token"
    assert apis["hospital"].auth[("get", "/status-lists/{list_id}")] == "public"
    assert apis["wallet"].auth[("get", "/wallet/credentials/{credential_id}")] == "admin token"
    assert apis["operator"].auth[("post", "/registrations")] == "public"
    assert apis["operator"].auth[("post", "/admin/accreditations")] == "admin token"
    assert apis["vault"].auth[("put", "/vault/{slot_id}")] == "slot token"
    assert apis["vault"].auth[("get", "/admin/stats")] == "admin token"
    for api in apis.values():
        # Every /admin route needs the admin token, and only /metrics has a token of its own.
        for (method, path), label in api.auth.items():
            if path.startswith("/admin"):
                assert label == "admin token", (api.role, method, path)
            if label == "bearer token":
                assert path == "/metrics", (api.role, method, path)


def test_the_page_documents_every_operation_and_status(apis: dict[str, ServiceApi]) -> None:
    for api in apis.values():
        page = render_role(api)
        for path, item in api.schema["paths"].items():
            for method, operation in item.items():
                heading = f"### {method.upper()} {path}\n"
                assert heading in page, (api.role, heading)
                section = page.split(heading, 1)[1].split("\n### ", 1)[0]
                for code in operation["responses"]:
                    assert f"\n| {code} |" in section, (api.role, method, path, code)
                if "requestBody" in operation:
                    assert "**Request body** (" in section


def test_gaps_name_bodies_and_error_statuses_not_declared() -> None:
    schema = {
        "paths": {
            "/a": {
                "post": {"responses": {"200": {"description": "ok"}}},
                "get": {"responses": {"200": {"description": "ok"}}},
            },
            "/b/{id}": {
                "put": {
                    "parameters": [{"name": "id", "in": "path", "required": True}],
                    "requestBody": {"content": {"application/json": {"schema": {}}}},
                    "responses": {
                        "200": {"description": "ok"},
                        "422": {"description": "Validation Error"},
                    },
                },
                "delete": {
                    "parameters": [{"name": "id", "in": "path", "required": True}],
                    "responses": {"204": {"description": "gone"}, "404": {"description": "no"}},
                },
            },
        }
    }
    assert openapi_gaps(schema) == [
        ("post", "/a", "no request body declared"),
        ("post", "/a", "no error status declared"),
        ("put", "/b/{id}", "no error status declared"),
    ]


def test_gaps_option_lists_each_gap_of_each_service(apis: dict[str, ServiceApi]) -> None:
    result = CliRunner().invoke(build_app(), ["docs", "api", "--gaps"])
    assert result.exit_code == 0, result.output
    expected = [
        f"{role} {method.upper()} {path}: {what}"
        for role, api in apis.items()
        for method, path, what in openapi_gaps(api.schema)
    ]
    assert result.output.splitlines() == expected
