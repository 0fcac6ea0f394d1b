"""``provenance keys list|issue|rotate|revoke|audit``: API keys with a lifecycle, without curl.

A key belongs to a gateway participant (``--participant`` with its address or GLN: the
regulator manages every participant's keys, a participant its own) or to the indexer's readers
(``--reader``: the indexer's regulator key manages them). Both services answer the same shapes
(docs/security.md#api-keys): a key is ``id``, ``label``, ``prefix``, its times, and its
``scope`` (gateway) or ``role`` and ``region`` (indexer); a new key's secret is in ``apiKey``,
shown once, and this module writes it to the file named by ``--key-out`` (0600, never echoed unless
``--show-key``).

Exit codes: 0 done; 1 refused by the service (403, 404, 409); 2 unusable input, key file or
service (a 422, a 5xx, no answer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from provenance.exits import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE, print_unusable
from provenance.http import Service, ServiceError, accepted
from servicekit.secrets import write_secret

Echo = Callable[[str], None]

_DURATION = re.compile(r"^\s*(\d{1,7})\s*([smhd]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


class KeysError(Exception):
    """The request cannot be made (exit code 2): a bad option, an unknown participant."""


def parse_duration(text: str) -> int:
    """Seconds in ``90``, ``90s``, ``15m``, ``24h`` or ``7d``; anything else is a KeysError."""
    match = _DURATION.match(text)
    if match is None:
        raise KeysError(f"{text!r} is not a duration: a number with s, m, h or d (like 24h)")
    return int(match.group(1)) * _SECONDS[match.group(2)]


@dataclass(frozen=True)
class Keyring:
    """Whose keys a verb manages: the indexer's readers (``reader``), or a gateway participant's
    (``address``; None: every participant's, for the audit), and the service that keeps them."""

    service: Service
    address: str | None
    reader: bool = False

    @property
    def what(self) -> str:
        if self.reader:
            return "reader keys"
        return f"keys of {self.address}" if self.address else "participants' keys"

    def keys_path(self, key_id: str | None = None, action: str = "") -> str:
        if self.reader:
            base = "/keys"
        elif self.address is None:
            raise KeysError("name whose keys: --participant ADDRESS|GLN|me")
        else:
            base = f"/participants/{quote(self.address)}/keys"
        if key_id is not None:
            base += f"/{quote(key_id)}"
        return base + action

    def audit_path(self) -> str:
        if self.reader or self.address is None:
            return "/keys/audit"
        return f"/keys/audit?participant={quote(self.address)}"


def participant_address(gateway: Service, given: str) -> str:
    """The address of the participant ``given`` names: ``me`` (the caller), an address or a GLN
    (provenance/participants_command.py's :func:`resolve`)."""
    from provenance.participants_command import resolve

    return given if given == "me" else str(resolve(gateway, given)["address"])


def key_id_of(ring: Keyring, given: str) -> str:
    """The id of the key ``given`` names: its id, or the label of exactly one live key."""
    if given.isdigit():
        return given
    keys = accepted(ring.service.get(ring.keys_path())).json()
    found = [k for k in keys if k.get("label") == given and k.get("status", "live") == "live"]
    if len(found) != 1:
        many = "several live keys are" if found else "no live key is"
        raise KeysError(f"{many} labelled {given!r} ({ring.what}): give the key's id")
    return str(found[0]["id"])


def _keys_table(keys: Sequence[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "label", "prefix", "scope", "created", "last used", "expires", "revoked"):
        table.add_column(column)
    for key in keys:
        scope = key.get("scope") or key.get("role") or ""
        if key.get("status") not in (None, "live"):
            scope = f"{scope} ({key['status']})"
        if key.get("region"):
            scope = f"{scope} {key['region']}"
        if key.get("participant"):
            scope = f"{scope} {key['participant']}"
        table.add_row(
            *(
                escape(str(value or ""))
                for value in (
                    key.get("id"),
                    key.get("label"),
                    key.get("prefix"),
                    scope,
                    key.get("createdAt"),
                    key.get("lastUsedAt"),
                    key.get("expiresAt"),
                    key.get("revokedAt"),
                )
            )
        )
    return table


def _audit_table(entries: Sequence[dict[str, Any]]) -> Table:
    table = Table(title="key audit")
    for column in ("at", "actor", "action", "key", "whose", "detail"):
        table.add_column(column)
    for entry in entries:
        whose = entry.get("participant") or entry.get("name")  # gateway / indexer
        values = (entry.get("at"), entry.get("actor"), entry.get("action"), entry.get("keyId"))
        table.add_row(*(escape(str(v or "")) for v in (*values, whose, entry.get("detail"))))
    return table


@dataclass(frozen=True)
class Output:
    """Where a verb prints: a console, and whether for a script (``--json``)."""

    console: Console
    as_json: bool = False

    def data(self, value: object) -> None:
        self.console.print_json(json.dumps(value))

    def say(self, text: str) -> None:
        self.console.print(escape(text), soft_wrap=True)


def _save_secret(answer: dict[str, Any], out: Path | None, show: bool, output: Output) -> None:
    """Write the answer's ``apiKey`` to ``out`` (0600) and say where; print it only if asked."""
    token = str(answer.pop("apiKey", "") or "")
    if not token:
        raise KeysError("the service answered no apiKey")
    if out is not None:
        write_secret(out, token)
        answer["keyFile"] = str(out)
    if show:
        answer["apiKey"] = token


def run(verb: Callable[[], int], output: Output) -> int:
    """Run ``verb``; a refusal, a KeysError or a ServiceError becomes its message and exit code."""
    from provenance.participants_command import Refused, Unusable

    try:
        return verb()
    except (KeysError, Unusable) as exc:
        print_unusable(output.console, str(exc), as_json=output.as_json)
        return EXIT_UNUSABLE
    except (Refused, ServiceError) as exc:
        if output.as_json:
            output.data({"error": str(exc)})
        else:
            output.say(str(exc))
        return exc.exit_code if isinstance(exc, ServiceError) else EXIT_REFUSED


def list_keys(ring: Keyring, output: Output) -> int:
    keys = accepted(ring.service.get(ring.keys_path())).json()
    if output.as_json:
        output.data(keys)
    else:
        output.console.print(_keys_table(keys, ring.what))
    return EXIT_OK


def issue_key(
    ring: Keyring,
    body: dict[str, Any],
    *,
    out: Path | None,
    show: bool,
    output: Output,
) -> int:
    if out is None and not show:
        raise KeysError("say where the new key goes: --key-out FILE (or --show-key to print it)")
    answer: dict[str, Any] = accepted(ring.service.post(ring.keys_path(), json=body)).json()
    _save_secret(answer, out, show, output)
    _report_new(answer, output, "issued")
    return EXIT_OK


def rotate_key(
    ring: Keyring,
    key_id: str,
    *,
    grace_seconds: int,
    expires_at: str | None = None,
    out: Path | None,
    show: bool,
    output: Output,
) -> int:
    if out is None and not show:
        raise KeysError("say where the new key goes: --key-out FILE (or --show-key to print it)")
    path = ring.keys_path(key_id_of(ring, key_id), "/rotate")
    answer: dict[str, Any] = accepted(
        ring.service.post(path, json={"graceSeconds": grace_seconds, "expiresAt": expires_at})
    ).json()
    _save_secret(answer, out, show, output)
    _report_new(answer, output, "rotated")
    return EXIT_OK


def revoke_key(ring: Keyring, key_id: str, output: Output) -> int:
    key_id = key_id_of(ring, key_id)
    response = accepted(ring.service.request("DELETE", ring.keys_path(key_id)))
    answer = response.json() if response.content else {"id": key_id}
    if output.as_json:
        output.data(answer)
    else:
        output.say(f"revoked key {key_id} ({ring.what}): it is refused from now on")
    return EXIT_OK


def audit(ring: Keyring, output: Output, *, since: str | None = None) -> int:
    path = ring.audit_path()
    params = {"since": since} if since else None
    entries = accepted(ring.service.get(path, params=params)).json()
    if output.as_json:
        output.data(entries)
    else:
        output.console.print(_audit_table(entries))
    return EXIT_OK


def _report_new(answer: dict[str, Any], output: Output, done: str) -> None:
    if output.as_json:
        output.data(answer)
        return
    key = answer.get("key", answer)
    where = f", written to {answer['keyFile']} (0600)" if "keyFile" in answer else ""
    output.say(f"{done}: key {key.get('id')} ({key.get('label') or 'no label'}){where}")
    old = answer.get("old") or answer.get("previous")
    if isinstance(old, dict):
        output.say(f"the old key {old.get('id')} stays valid until {old.get('expiresAt')}")
    if "apiKey" in answer:
        output.say(f"API key: {answer['apiKey']}")
