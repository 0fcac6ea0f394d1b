"""``provenance participants``: the regulator's participant registry from the command line.

- ``add NAME --role R --gln GLN [--region R] [--prefix P] ...``: registers a participant
  (``POST /participants``) with an ``Idempotency-Key`` it makes and sends again when it retries
  after a connection failure (the gateway then answers the same participant with a fresh key and
  revokes the one nobody saw); the API key is written to ``--key-out`` (0600) and never printed
  unless ``--show-key``.
- ``list``, ``show P``: a table (name, GLN, roles, region, status, address), ``--json``.
- ``suspend P``, ``reinstate P``, ``set-region P REGION``, ``prefixes P [PREFIX ...]``.

A participant ``P`` is named by its address or its GLN (found through the list). Exit codes:
0 done, 1 refused by the gateway (403 not the regulator, 404 unknown, 409 conflict; an unknown
GLN), 2 unusable input, key file or gateway (a 422 included: nothing was changed).
Heavy imports stay inside the commands (the CLI starts faster).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from provenance.exits import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE
from provenance.options import (
    DEFAULT_GATEWAY_URL,
    REGULATOR_KEY_FILES,
    GatewayUrl,
    RegulatorKeyFile,
    default_key_file,
)

if TYPE_CHECKING:
    from rich.console import Console

    from provenance.http import Service

participants_app = typer.Typer(
    name="participants",
    help="The participant registry (regulator): add, list, show, suspend, reinstate, regions, "
    "company prefixes.",
    no_args_is_help=True,
    add_completion=False,
)

#: ``add``: attempts in all when the gateway cannot be reached (the same Idempotency-Key each).
ADD_ATTEMPTS = 3
#: ``add``: seconds before the 2nd, 3rd... attempt.
RETRY_PAUSE = 1.0

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
GLN = re.compile(r"[0-9]{13}")
COLUMNS = ("name", "GLN", "roles", "region", "status", "address")

JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Who = Annotated[
    str, typer.Argument(help="The participant: its address (0x...) or its GLN.", show_default=False)
]


class Unusable(Exception):
    """Input that cannot be sent: exit 2, nothing sent."""


class Refused(Exception):
    """The gateway said no (or, for a GLN, knows no such participant): exit 1."""


# --- shared -------------------------------------------------------------------------------------


def _console() -> Console:
    from rich.console import Console

    return Console(soft_wrap=True, highlight=False)


@contextmanager
def _gateway(url: str, key_file: Path | None, *, as_json: bool) -> Iterator[Service]:
    """The gateway with the regulator's key; any failure inside is printed and turned into the
    exit code (typer.Exit)."""
    from provenance.exits import print_unusable
    from provenance.http import GATEWAY_WRITE_TIMEOUT, Service, ServiceError, read_key

    path = default_key_file(key_file, REGULATOR_KEY_FILES, "regulator")
    console = _console()
    try:
        key = read_key(path)
    except ServiceError as exc:
        print_unusable(console, str(exc), as_json=as_json)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    try:
        with Service.at("gateway", url, timeout=GATEWAY_WRITE_TIMEOUT, api_key=key) as gateway:
            yield gateway
    except Unusable as exc:
        print_unusable(console, str(exc), as_json=as_json)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    except Refused as exc:
        _say_refused(console, str(exc), as_json=as_json)
        raise typer.Exit(EXIT_REFUSED) from exc
    except ServiceError as exc:  # no answer (2); refused (1; 2 for a 422 or a 5xx)
        if exc.exit_code == EXIT_REFUSED:
            _say_refused(console, str(exc), as_json=as_json)
        else:
            print_unusable(console, str(exc), as_json=as_json)
        raise typer.Exit(exc.exit_code) from exc


def _say_refused(console: Console, message: str, *, as_json: bool) -> None:
    from rich.markup import escape

    if as_json:
        console.print_json(json.dumps({"error": message}))
    else:
        console.print(f"[red]{escape(message)}[/red]")


def _answer(response: Any) -> Any:
    """The JSON of a success; a refusal raised (provenance.http.refused)."""
    from provenance.http import accepted

    return accepted(response).json()


def resolve(gateway: Service, who: str) -> dict[str, Any]:
    """The participant named by its address (``GET /participants/{a}``) or its GLN (found in
    ``GET /participants``)."""
    who = who.strip()
    if ADDRESS.fullmatch(who):
        found: dict[str, Any] = _answer(gateway.get(f"/participants/{who}"))
        return found
    if GLN.fullmatch(who):
        for participant in _answer(gateway.get("/participants")):
            if participant.get("gln") == who:
                return dict(participant)
        raise Refused(f"no participant with GLN {who}")
    raise Unusable(
        f"name a participant by its address (0x + 40 hex) or its GLN (13 digits): {who!r}"
    )


def _print(participants: list[dict[str, Any]], *, as_json: bool, title: str | None = None) -> None:
    console = _console()
    if as_json:
        console.print_json(json.dumps(participants))
        return
    from rich.table import Table

    table = Table(*COLUMNS, title=title)
    for p in participants:
        table.add_row(
            p.get("name", ""),
            p.get("gln", ""),
            ", ".join(p.get("roles", [])),
            p.get("region") or "-",
            p.get("status", ""),
            p.get("address", ""),
        )
    console.print(table)


def _print_one(participant: dict[str, Any], *, as_json: bool, said: str | None = None) -> None:
    if not as_json and said:
        from rich.markup import escape

        _console().print(escape(said))
    _print([participant], as_json=as_json)
    if not as_json:
        prefixes = participant.get("companyPrefixes") or []
        _console().print(
            f"company prefixes: {', '.join(prefixes) or '-'}; rule set: "
            f"{participant.get('ruleSet', '-')}; updated: {participant.get('updatedAt') or '-'}"
        )


# --- add ----------------------------------------------------------------------------------------


def _check_add(gln: str, roles: list[str], region: str | None, key_out: Path) -> str | None:
    """What the gateway would refuse, refused here first (exit 2, nothing sent); the region in
    its canonical form."""
    from medledger.epcis import gs1
    from medledger.errors import ValidationError
    from medledger.regions import region_code
    from medledger.roles import Role

    try:
        gs1.gln(gln, pointer="--gln")
        if not roles:
            raise Unusable("give at least one --role")
        Role.parse(",".join(roles))
        code = None if region is None else region_code(region, pointer="--region")
    except ValidationError as exc:
        raise Unusable(str(exc)) from exc
    except ValueError as exc:
        raise Unusable(str(exc)) from exc
    if key_out.exists():
        raise Unusable(f"{key_out} exists: choose another --key-out (it may hold a live key)")
    return code


def register(
    gateway: Service,
    body: dict[str, Any],
    idempotency_key: str,
    *,
    attempts: int = ADD_ATTEMPTS,
    pause: float = RETRY_PAUSE,
    said: Callable[[str], None] = lambda _: None,
) -> tuple[dict[str, Any], bool]:
    """``POST /participants`` with ``idempotency_key``, sent again (the same key) when no answer
    comes; the answer and whether the gateway answered an earlier attempt again."""
    from provenance.http import ServiceError

    for attempt in range(1, attempts + 1):
        try:
            response = gateway.post(
                "/participants", json=body, headers={"Idempotency-Key": idempotency_key}
            )
        except ServiceError as exc:  # no answer: the gateway may have registered it anyway
            if attempt == attempts:
                raise ServiceError(
                    f"{exc}; the registration may have gone through: run the same command with "
                    f"--idempotency-key {idempotency_key} to get its key"
                ) from exc
            said(f"no answer ({exc}); sending it again with the same Idempotency-Key")
            time.sleep(pause * attempt)
            continue
        answer: dict[str, Any] = _answer(response)
        return answer, response.headers.get("Idempotent-Replayed") == "true"
    raise AssertionError("unreachable")


@participants_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The participant's name.", show_default=False)],
    role: Annotated[
        list[str],
        typer.Option(
            help="A role (repeat for several): api-maker, manufacturer, importer, distributor, "
            "pharmacy, hospital, regulator, auditor.",
            show_default=False,
        ),
    ],
    gln: Annotated[str, typer.Option(help="Its GLN (13 digits).", show_default=False)],
    key_out: Annotated[
        Path,
        typer.Option(
            help="File the new API key is written to (0600; must not exist).", show_default=False
        ),
    ],
    region: Annotated[
        str | None, typer.Option(help="ISO 3166-2 subdivision code (KG-GB) or country (KG).")
    ] = None,
    prefix: Annotated[
        list[str] | None,
        typer.Option(help="A GS1 company prefix it may commission under (repeatable)."),
    ] = None,
    rule_set: Annotated[str, typer.Option(help="Rule set: pharma or epcis.")] = "pharma",
    webhook_url: Annotated[
        str | None, typer.Option(help="Where its recall notifications are POSTed.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            help="Sent as Idempotency-Key (default: a new random one). The same key and the "
            "same facts again answer the same participant with a fresh API key."
        ),
    ] = None,
    show_key: Annotated[
        bool, typer.Option("--show-key", help="Also print the API key (it is shown once).")
    ] = False,
    gateway_url: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: RegulatorKeyFile = None,
    as_json: JsonOutput = False,
) -> None:
    """Register a participant on-chain and at the gateway (regulator); its API key goes to
    --key-out (0600), never to the screen unless --show-key.

    Exit code 0 if registered, 1 if the gateway refuses (not the regulator), 2 if the input is
    unusable (the GLN is taken, a bad region or prefix...) or the gateway cannot be reached.
    """
    from servicekit.secrets import write_secret

    key = idempotency_key or str(uuid.uuid4())
    console = _console()
    with _gateway(gateway_url, key_file, as_json=as_json) as gateway:
        canonical = _check_add(gln, role, region, key_out)
        body: dict[str, Any] = {
            "name": name,
            "roles": role,
            "gln": gln,
            "ruleSet": rule_set,
            "companyPrefixes": prefix or [],
        }
        if canonical is not None:
            body["region"] = canonical
        if webhook_url is not None:
            body["webhookUrl"] = webhook_url
        answer, replayed = register(
            gateway, body, key, said=lambda text: typer.echo(text, err=True)
        )
    api_key = answer.pop("apiKey")
    secret = answer.pop("webhookSecret", None)
    try:
        write_secret(key_out, api_key)
        secret_file = None
        if secret is not None:
            secret_file = key_out.with_name(key_out.name + ".webhook-secret")
            write_secret(secret_file, secret)
    except OSError as exc:
        from provenance.exits import print_unusable

        print_unusable(
            console,
            f"registered {answer['address']}, but its key could not be written to {key_out}: "
            f"{exc}; run the same command with --idempotency-key {key} and another --key-out "
            "for a fresh key",
            as_json=as_json,
        )
        raise typer.Exit(EXIT_UNUSABLE) from exc
    if as_json:
        shown = answer | {"keyFile": str(key_out), "replayed": replayed}
        if secret_file is not None:
            shown["webhookSecretFile"] = str(secret_file)
        if show_key:
            shown["apiKey"] = api_key
        console.print_json(json.dumps(shown))
    else:
        again = " (answered again: the earlier answer's key is revoked)" if replayed else ""
        _print_one(answer, as_json=False, said=f"registered {answer['name']}{again}")
        console.print(f"API key written to {key_out} (0600)")
        if secret_file is not None:
            console.print(f"webhook secret written to {secret_file} (0600)")
        if show_key:
            console.print(api_key, markup=False)
    raise typer.Exit(EXIT_OK)


# --- list, show ---------------------------------------------------------------------------------


@participants_app.command("list")
def list_(
    gateway_url: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: RegulatorKeyFile = None,
    as_json: JsonOutput = False,
) -> None:
    """Every participant: name, GLN, roles, region, status, address.

    Exit code 0, 1 if the key is refused, 2 if the gateway cannot be reached."""
    with _gateway(gateway_url, key_file, as_json=as_json) as gateway:
        participants = _answer(gateway.get("/participants"))
    _print(participants, as_json=as_json)


@participants_app.command("show")
def show(
    who: Who,
    gateway_url: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: RegulatorKeyFile = None,
    as_json: JsonOutput = False,
) -> None:
    """One participant, by address or GLN.

    Exit code 0, 1 if unknown (or the key refused), 2 if unusable or unreachable."""
    with _gateway(gateway_url, key_file, as_json=as_json) as gateway:
        participant = resolve(gateway, who)
    _print_one(participant, as_json=as_json)


# --- changes ------------------------------------------------------------------------------------


def _change(
    gateway_url: str,
    key_file: Path | None,
    who: str,
    as_json: bool,
    send: Callable[[Service, str], Any],
    said: str,
) -> None:
    with _gateway(gateway_url, key_file, as_json=as_json) as gateway:
        address = resolve(gateway, who)["address"]
        participant = _answer(send(gateway, address))
    _print_one(participant, as_json=as_json, said=f"{said} {participant.get('name', address)}")


@participants_app.command("suspend")
def suspend(
    who: Who,
    gateway_url: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: RegulatorKeyFile = None,
    as_json: JsonOutput = False,
) -> None:
    """Suspend a participant, on-chain and at the gateway (regulator).

    Exit code 0, 1 if refused (not the regulator, unknown, already suspended, the last
    regulator...), 2 if unusable or unreachable."""
    _change(
        gateway_url,
        key_file,
        who,
        as_json,
        lambda g, a: g.post(f"/participants/{a}/suspend"),
        "suspended",
    )


@participants_app.command("reinstate")
def reinstate(
    who: Who,
    gateway_url: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: RegulatorKeyFile = None,
    as_json: JsonOutput = False,
) -> None:
    """Reinstate a suspended participant, on-chain and at the gateway (regulator).

    Exit code 0, 1 if refused (not the regulator, unknown, not suspended), 2 if unusable or
    unreachable."""
    _change(
        gateway_url,
        key_file,
        who,
        as_json,
        lambda g, a: g.post(f"/participants/{a}/reinstate"),
        "reinstated",
    )


@participants_app.command("set-region")
def set_region(
    who: Who,
    region: Annotated[
        str,
        typer.Argument(
            help="ISO 3166-2 subdivision code (KG-GB) or country code (KG); 'none' clears it.",
            show_default=False,
        ),
    ],
    gateway_url: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: RegulatorKeyFile = None,
    as_json: JsonOutput = False,
) -> None:
    """Set (or, with 'none', clear) a participant's region (regulator).

    Exit code 0, 1 if refused (not the regulator, unknown), 2 if the region is no ISO 3166-2
    code or the gateway cannot be reached."""
    from medledger.errors import ValidationError
    from medledger.regions import region_code

    code: str | None = None
    if region.strip().lower() != "none":
        try:
            code = region_code(region)
        except ValidationError as exc:
            from provenance.exits import print_unusable

            print_unusable(_console(), str(exc), as_json=as_json)
            raise typer.Exit(EXIT_UNUSABLE) from exc
    _change(
        gateway_url,
        key_file,
        who,
        as_json,
        lambda g, a: g.request("PUT", f"/participants/{a}/region", json={"region": code}),
        "region set for",
    )


@participants_app.command("prefixes")
def prefixes(
    who: Who,
    prefix: Annotated[
        list[str] | None,
        typer.Argument(
            help="The GS1 company prefixes it may commission under, replacing its current ones; "
            "none given: show them.",
            show_default=False,
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every prefix.")] = False,
    gateway_url: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: RegulatorKeyFile = None,
    as_json: JsonOutput = False,
) -> None:
    """Show or replace a participant's GS1 company prefixes, on-chain and at the gateway
    (regulator).

    Exit code 0, 1 if refused (not the regulator, unknown), 2 if a prefix is malformed or the
    gateway cannot be reached."""
    if prefix and clear:
        from provenance.exits import print_unusable

        print_unusable(_console(), "give prefixes or --clear, not both", as_json=as_json)
        raise typer.Exit(EXIT_UNUSABLE)
    if not prefix and not clear:
        with _gateway(gateway_url, key_file, as_json=as_json) as gateway:
            participant = resolve(gateway, who)
        if as_json:
            _console().print_json(json.dumps(participant.get("companyPrefixes", [])))
        else:
            typer.echo(" ".join(participant.get("companyPrefixes", [])) or "-")
        return
    wanted = list(prefix or [])
    _change(
        gateway_url,
        key_file,
        who,
        as_json,
        lambda g, a: g.request(
            "PUT", f"/participants/{a}/prefixes", json={"companyPrefixes": wanted}
        ),
        "company prefixes set for",
    )
