"""``mydata docs api``: the HTTP API reference, generated from each service's own OpenAPI.

Every party's service is a FastAPI app; its OpenAPI document is built from the routes
themselves, so the reference cannot say what the code does not. For each role of
``mydata serve`` this writes, into ``docs/api/`` by default:

- ``<role>.openapi.json``: the OpenAPI document, keys sorted, so that a diff shows a change
  of the API and nothing else;
- ``<role>.md``: every route with its method, auth, summary, parameters, request body and
  responses, then the schemas it names, then what its OpenAPI leaves out;
- ``README.md``: the index.

The apps are built as ``mydata serve`` builds them, but never started: building an app opens
no store (the store opens in its lifespan), so no store, key or passphrase is needed.
``--check`` compares the committed files with what the code generates now and exits 1 naming
the files that are out of date; ``tests/docs/test_api_docs.py`` runs it.

Auth comes from the routes: a route that depends on the admin guard
(:func:`agent.service.admin_guard`) needs the admin bearer token; any other declared security
requirement is a bearer token of its own (``/metrics``); a route with none is public, except
where the handler checks a credential itself, which its OpenAPI cannot show
(:data:`AUTH_OUTSIDE_OPENAPI`, checked against the routes so it cannot go stale).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.console import error_console, escape, stdout_console

__all__ = [
    "AUTH_OUTSIDE_OPENAPI",
    "ROLES",
    "ServiceApi",
    "collect",
    "openapi_gaps",
    "register",
    "render",
    "stale_files",
    "write_files",
]

#: The roles of ``mydata serve``, in the order the index lists them.
ROLES: tuple[str, ...] = ("operator", "hospital", "wallet", "verifier", "vault")

#: What each role's service is, for the index.
_ROLE_TEXT: Mapping[str, str] = {
    "operator": "the public operator: accreditations, the signed trust list, DID-auth "
    "registrations",
    "hospital": "a hospital issuer: VC-API issue and status, FHIR import, batches, did:web, "
    "status lists",
    "wallet": "the citizen's wallet (on 127.0.0.1): credentials, offers, presentation "
    "requests, consents, the emergency card",
    "verifier": "a data user (emergency department, insurer): presentation requests, VC-API "
    "verify, submissions",
    "vault": "the backup vault: ciphertext backups in slots only the recovery phrase opens",
}

#: Routes whose handler checks a credential that the OpenAPI does not declare:
#: (role, path) -> what the caller presents. Every entry must name an existing route.
AUTH_OUTSIDE_OPENAPI: Mapping[tuple[str, str], str] = {
    ("vault", "/vault/{slot_id}"): "slot token",
}

_AUTH_LEGEND: Mapping[str, str] = {
    "admin token": "`Authorization: Bearer <token>` with the service's admin token "
    "(`MYDATA_ADMIN_TOKEN`); without it: 401 `unauthorized`, whatever the route documents.",
    "bearer token": "`Authorization: Bearer <token>`: the token the route's summary names.",
    "slot token": "`Authorization: Bearer <secret>`: the vault access secret derived from the "
    "recovery phrase, whose hash is the slot id; checked by the handler (401 when it does not "
    "open the slot), not declared in the OpenAPI.",
    "public": "no HTTP authentication (a DIDComm envelope or a DID-auth proof in the body "
    "authenticates itself, as the route's description says).",
}

_BODY_METHODS = frozenset({"post", "put", "patch"})
_METHOD_ORDER = ("get", "head", "post", "put", "patch", "delete", "options")
_DEFAULT_OUT = Path("docs/api")


@dataclass(frozen=True)
class ServiceApi:
    """One service's OpenAPI document and the auth of each of its operations.

    :param auth: ``(method, path)`` (method in lower case, as in the document) to an auth label,
        one of the keys of the legend in the generated pages.
    """

    role: str
    schema: dict[str, Any]
    auth: dict[tuple[str, str], str]


# --- building the apps ------------------------------------------------------------------------


def _build_apps(folder: Path) -> dict[str, Any]:
    """Every role's app as ``mydata serve`` builds it with its defaults, over store URIs in
    ``folder`` that are never opened."""
    from agent.service import AgentServiceConfig
    from governance.api import create_operator_app
    from issuer.api import create_hospital_app
    from verifier.api import VerifierSettings, create_verifier_app
    from wallet.api import WalletOpenArgs, create_wallet_app
    from wallet.vault import create_vault_app

    def config(role: str) -> AgentServiceConfig:
        # The admin token only has to exist for the app to build; the app never serves.
        return AgentServiceConfig(
            store_uri=f"sqlite://{folder / f'{role}.sqlite'}",
            store_key="unused",
            public_url="http://127.0.0.1:8000",
            title=f"health-mydata {role}",
            admin_token="unused-admin-token",  # noqa: S106 - a placeholder, never served
        )

    builders: dict[str, Callable[[], Any]] = {
        "operator": lambda: create_operator_app(config("operator")),
        "hospital": lambda: create_hospital_app(config("hospital")),
        "wallet": lambda: create_wallet_app(
            config("wallet"), WalletOpenArgs(uri=f"sqlite://{folder / 'wallet-holder.sqlite'}")
        ),
        "verifier": lambda: create_verifier_app(config("verifier"), VerifierSettings()),
        "vault": lambda: create_vault_app(config("vault")),
    }
    return {role: builders[role]() for role in ROLES}


def _dependency_names(dependant: Any) -> Iterable[str]:
    """The qualified names of every callable a route depends on, nested ones included."""
    for sub in dependant.dependencies:
        call = getattr(sub, "call", None)
        if call is not None:
            yield getattr(call, "__qualname__", "")
        yield from _dependency_names(sub)


def _route_auth(role: str, app: Any, schema: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """``(method, path)`` -> auth label for every operation in ``schema``.

    :raises RuntimeError: an :data:`AUTH_OUTSIDE_OPENAPI` entry names no route of the app.
    """
    from fastapi.routing import iter_route_contexts

    from agent.service import admin_guard

    admin_prefix = f"{admin_guard.__qualname__}.<locals>."
    admin_routes: set[tuple[str, str]] = set()
    # The route contexts carry the dependencies of the routers a route was included through,
    # as FastAPI's own OpenAPI generation sees them; ``app.routes`` alone does not.
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is not None and any(
            name.startswith(admin_prefix) for name in _dependency_names(dependant)
        ):
            # ``path_format`` is the path as the OpenAPI names it (``{id}``, not ``{id:path}``).
            path = str(getattr(route, "path_format", None) or route.path)
            admin_routes.update((method.lower(), path) for method in route.methods or ())
    paths: Mapping[str, Mapping[str, Any]] = schema.get("paths", {})
    for key_role, key_path in AUTH_OUTSIDE_OPENAPI:
        if key_role == role and key_path not in paths:
            raise RuntimeError(
                f"AUTH_OUTSIDE_OPENAPI names {role} {key_path}, which the app no longer has"
            )
    auth: dict[tuple[str, str], str] = {}
    for path, item in paths.items():
        for method, operation in item.items():
            if (method, path) in admin_routes:
                label = "admin token"
            elif operation.get("security"):
                label = "bearer token"
            else:
                label = AUTH_OUTSIDE_OPENAPI.get((role, path), "public")
            auth[(method, path)] = label
    return auth


def collect() -> list[ServiceApi]:
    """Every role's OpenAPI document and route auth, in :data:`ROLES` order."""
    with tempfile.TemporaryDirectory(prefix="mydata-apidocs-") as folder:
        apps = _build_apps(Path(folder))
        apis = []
        for role in ROLES:
            schema = apps[role].openapi()
            apis.append(ServiceApi(role, schema, _route_auth(role, apps[role], schema)))
    return apis


# --- what the OpenAPI leaves out --------------------------------------------------------------


def _operations(schema: Mapping[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """``(method, path, operation)`` in the document's route order, methods in a fixed order."""
    for path, item in schema.get("paths", {}).items():
        for method in sorted(item, key=_method_rank):
            yield method, path, item[method]


def _method_rank(method: str) -> int:
    return _METHOD_ORDER.index(method) if method in _METHOD_ORDER else len(_METHOD_ORDER)


def _is_validation_only(code: str, response: Mapping[str, Any]) -> bool:
    """FastAPI's own 422 for a path or query parameter that does not parse."""
    return code == "422" and response.get("description") == "Validation Error"


def openapi_gaps(schema: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(method, path, what is missing)`` for each operation of ``schema`` that

    - takes a body (POST, PUT, PATCH) but declares no request body, so a client generator or
      a fuzzer sends it none; or
    - can be refused (it has parameters, a body or a security requirement) but declares no
      error status besides FastAPI's own 422 for parameters that do not parse.
    """
    gaps: list[tuple[str, str, str]] = []
    for method, path, operation in _operations(schema):
        takes_body = method in _BODY_METHODS
        if takes_body and "requestBody" not in operation:
            gaps.append((method, path, "no request body declared"))
        if not (takes_body or operation.get("parameters") or operation.get("security")):
            continue
        responses: Mapping[str, Any] = operation.get("responses", {})
        errors = [
            code
            for code, response in responses.items()
            if code[:1] in {"4", "5"} and not _is_validation_only(code, response)
        ]
        if not errors:
            gaps.append((method, path, "no error status declared"))
    return gaps


# --- markdown ---------------------------------------------------------------------------------


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation other than ``-`` and ``_``
    dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _text(value: str) -> str:
    """A docstring's reStructuredText literals (````x````, ``:func:`x```) as Markdown code."""
    value = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", value)
    return value.replace("``", "`").strip()


def _cell(value: str) -> str:
    """``value`` on one line, safe in a Markdown table cell."""
    return " ".join(_text(value).split()).replace("|", "\\|")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _schema_anchor(name: str) -> str:
    return _slug(f"schema {name}")


def _type(schema: Mapping[str, Any]) -> str:
    """A short description of ``schema``'s type, with links to named schemas."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[`{name}`](#{_schema_anchor(name)})"
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            joiner = " and " if combinator == "allOf" else " or "
            return joiner.join(_type(part) for part in schema[combinator])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind == "array":
        items = schema.get("items")
        return f"array of {_type(items)}" if isinstance(items, dict) and items else "array"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"object of {_type(extra)}"
        return "object"
    if kind is None:
        return "any JSON value"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else str(kind)


def _notes(schema: Mapping[str, Any]) -> str:
    notes = []
    for key, label in (
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minimum", "min"),
        ("exclusiveMinimum", "greater than"),
        ("maximum", "max"),
        ("exclusiveMaximum", "less than"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("pattern", "pattern"),
    ):
        if key in schema:
            notes.append(f"{label} `{schema[key]}`")
    if "default" in schema:
        notes.append(f"default `{json.dumps(schema['default'])}`")
    if schema.get("description"):
        notes.append(_cell(schema["description"]))
    return "; ".join(notes)


def _field_rows(schema: Mapping[str, Any], prefix: str = "", depth: int = 0) -> list[str]:
    """Table rows for an object schema's properties; inline nested objects as dotted names."""
    rows: list[str] = []
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        full = f"{prefix}{name}"
        mark = "yes" if name in required else ""
        rows.append(f"| `{full}` | {_type(prop)} | {mark} | {_notes(prop)} |")
        if depth < 3 and prop.get("type") == "object" and "properties" in prop:
            rows.extend(_field_rows(prop, f"{full}.", depth + 1))
        items = prop.get("items")
        if depth < 3 and isinstance(items, dict) and "properties" in items:
            rows.extend(_field_rows(items, f"{full}[].", depth + 1))
    return rows


def _describe_schema(schema: Mapping[str, Any]) -> list[str]:
    """Markdown lines for a body or a named schema: a field table for an object with
    properties, else its type on one line."""
    rows = _field_rows(schema)
    if not rows:
        return [f"{_type(schema)}."]
    return ["| field | type | required | notes |", "|---|---|---|---|", *rows]


def _request_lines(method: str, operation: Mapping[str, Any]) -> list[str]:
    body = operation.get("requestBody")
    if body is None:
        if method in _BODY_METHODS:
            return ["**Request body**: none declared in the OpenAPI.", ""]
        return []
    lines: list[str] = []
    required = "required" if body.get("required") else "optional"
    for media_type, content in body.get("content", {}).items():
        lines.append(f"**Request body** (`{media_type}`, {required}):")
        lines.append("")
        lines.extend(_describe_schema(content.get("schema", {})))
        lines.append("")
    return lines


def _parameter_lines(operation: Mapping[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    if not parameters:
        return []
    lines = [
        "**Parameters**:",
        "",
        "| name | in | type | required | notes |",
        "|---|---|---|---|---|",
    ]
    for parameter in parameters:
        schema = parameter.get("schema", {})
        notes = _notes({**schema, "description": parameter.get("description", "")})
        mark = "yes" if parameter.get("required") else ""
        lines.append(
            f"| `{parameter['name']}` | {parameter['in']} | {_type(schema)} | {mark} | {notes} |"
        )
    return [*lines, ""]


def _response_lines(operation: Mapping[str, Any]) -> list[str]:
    lines = ["**Responses**:", "", "| status | meaning | body |", "|---|---|---|"]
    for code, response in sorted(operation.get("responses", {}).items()):
        bodies = [
            f"`{media_type}`: {_type(content.get('schema', {}))}"
            if content.get("schema")
            else f"`{media_type}`"
            for media_type, content in response.get("content", {}).items()
        ]
        meaning = _cell(response.get("description", ""))
        lines.append(f"| {code} | {meaning} | {'; '.join(bodies) or 'none'} |")
    return [*lines, ""]


def _heading(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def _tag(operation: Mapping[str, Any]) -> str:
    tags = operation.get("tags") or ["other"]
    return str(tags[0])


def render_role(api: ServiceApi) -> str:
    """The Markdown reference of one service."""
    schema = api.schema
    operations = list(_operations(schema))
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for method, path, operation in operations:
        by_tag.setdefault(_tag(operation), []).append((method, path, operation))
    used = sorted(set(api.auth.values()), key=list(_AUTH_LEGEND).index)
    lines = [
        f"# {api.role} HTTP API",
        "",
        f"<!-- generated by `mydata docs api` from {api.role}.openapi.json: do not edit -->",
        "",
        f"`mydata serve {api.role}`: {_ROLE_TEXT[api.role]}. The OpenAPI document "
        f"(OpenAPI {schema.get('openapi', '?')}) is [{api.role}.openapi.json]"
        f"({api.role}.openapi.json); a running service also serves it at `/openapi.json`. "
        'Error bodies are JSON `{"code", "message"}` unless the response names another schema.',
        "",
        "Auth:",
        "",
        *(f"- **{label}**: {_AUTH_LEGEND[label]}" for label in used),
        "",
        "| method | path | auth | summary |",
        "|---|---|---|---|",
    ]
    for method, path, operation in operations:
        anchor = _slug(_heading(method, path))
        lines.append(
            f"| {method.upper()} | [`{path}`](#{anchor}) | {api.auth[(method, path)]} | "
            f"{_cell(operation.get('summary', ''))} |"
        )
    lines.append("")
    for tag, tagged in by_tag.items():
        lines += [f"## {tag}", ""]
        for method, path, operation in tagged:
            lines += [f"### {_heading(method, path)}", ""]
            if operation.get("summary"):
                lines += [_text(operation["summary"]).rstrip(".") + ".", ""]
            if operation.get("description"):
                lines += [_text(operation["description"]), ""]
            lines += [f"**Auth**: {api.auth[(method, path)]}.", ""]
            lines += _parameter_lines(operation)
            lines += _request_lines(method, operation)
            lines += _response_lines(operation)
    schemas: Mapping[str, Any] = schema.get("components", {}).get("schemas", {})
    if schemas:
        lines += ["## Schemas", ""]
        for name, named in sorted(schemas.items()):
            lines += [f"### schema {name}", ""]
            if named.get("description"):
                lines += [_text(named["description"]), ""]
            lines += [*_describe_schema(named), ""]
    gaps = openapi_gaps(schema)
    if gaps:
        lines += [
            "## Not in this OpenAPI",
            "",
            "Routes that take a body but declare none (their handler parses it; the route's "
            "description says what it reads), and routes that can be refused but declare no "
            "error status (they still answer errors, with the status their code maps to):",
            "",
            *(f"- {_heading(m, p)}: {what}" for m, p, what in gaps),
            "",
        ]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_index(apis: Iterable[ServiceApi]) -> str:
    """``README.md``: one row per service."""
    lines = [
        "# HTTP APIs",
        "",
        "<!-- generated by `mydata docs api`: do not edit -->",
        "",
        "Each party's service (`mydata serve ROLE`) documents itself in OpenAPI; these pages are "
        "generated from it by `mydata docs api`, and `tests/docs/test_api_docs.py` fails when "
        "they no longer match the code (`mydata docs api --check`). Every service also serves "
        "`GET /healthz`, `GET /readyz` and `GET /metrics` "
        "([operations](../operations.md)); the DIDComm agents serve `POST /didcomm` and the "
        "`/admin` connection routes ([messaging](../messaging.md)).",
        "",
        "| service | what it is | routes | reference | OpenAPI |",
        "|---|---|---|---|---|",
    ]
    for api in apis:
        count = len(api.auth)
        lines.append(
            f"| {api.role} | {_ROLE_TEXT[api.role]} | {count} | [{api.role}.md]({api.role}.md) "
            f"| [{api.role}.openapi.json]({api.role}.openapi.json) |"
        )
    lines += [
        "",
        "Regenerate after changing a route:",
        "",
        "```bash",
        "./dev mydata docs api            # writes docs/api/",
        "./dev mydata docs api --check    # exit 1 naming the files out of date",
        "./dev mydata docs api --gaps     # routes whose OpenAPI lacks a body or error statuses",
        "```",
    ]
    return "\n".join(lines) + "\n"


def render(apis: Iterable[ServiceApi]) -> dict[str, str]:
    """File name (inside the output folder) -> content, for every generated file."""
    apis = list(apis)
    files: dict[str, str] = {"README.md": render_index(apis)}
    for api in apis:
        document = json.dumps(api.schema, indent=2, sort_keys=True, ensure_ascii=False)
        files[f"{api.role}.openapi.json"] = document + "\n"
        files[f"{api.role}.md"] = render_role(api)
    return files


def write_files(out: Path, files: Mapping[str, str]) -> list[Path]:
    """Write ``files`` into ``out`` (created if missing); the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = out / name
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def stale_files(out: Path, files: Mapping[str, str]) -> list[Path]:
    """The files in ``out`` that differ from ``files`` or are missing, and OpenAPI documents
    in ``out`` that no service has any more."""
    stale = [
        out / name
        for name, content in files.items()
        if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != content
    ]
    if out.is_dir():
        stale += [path for path in sorted(out.glob("*.openapi.json")) if path.name not in files]
    return stale


# --- the command ------------------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    docs_app = typer.Typer(help="Generated documentation.", no_args_is_help=True)
    app.add_typer(docs_app, name="docs")

    @docs_app.command("api")
    def api(
        out: Annotated[
            Path, typer.Option(help="The folder of the generated reference.")
        ] = _DEFAULT_OUT,
        check: Annotated[
            bool,
            typer.Option(help="Write nothing; exit 1 naming the files that are out of date."),
        ] = False,
        gaps: Annotated[
            bool,
            typer.Option(
                help="Write nothing; list routes whose OpenAPI declares no request body or "
                "no error status."
            ),
        ] = False,
    ) -> None:
        """The HTTP API reference of every service, from its OpenAPI: ROLE.openapi.json,
        ROLE.md and an index README.md."""
        if check and not out.is_dir():
            # Not "every file out of date": run elsewhere than the repository's root, the
            # default docs/api is simply not there.
            error_console().print(
                f"[red]error:[/] the folder {escape(str(out))} was not found: run this in the "
                "repository's root, or give the reference's folder with --out",
                soft_wrap=True,
            )
            raise typer.Exit(2)
        apis = collect()
        console = stdout_console()
        if gaps:
            for one in apis:
                for method, path, what in openapi_gaps(one.schema):
                    console.print(
                        escape(f"{one.role} {method.upper()} {path}: {what}"), soft_wrap=True
                    )
            return
        files = render(apis)
        if check:
            stale = stale_files(out, files)
            if stale:
                names = ", ".join(str(path) for path in stale)
                error_console().print(
                    f"[red]out of date:[/] {escape(names)}; run "
                    f"`mydata docs api --out {escape(str(out))}`",
                    soft_wrap=True,
                )
                raise typer.Exit(1)
            console.print(
                escape(f"{len(files)} files in {out} match the services' OpenAPI"), soft_wrap=True
            )
            return
        written = write_files(out, files)
        console.print(escape(f"wrote {len(written)} files to {out}"), soft_wrap=True)
