"""The verbs of ``provenance keys`` that manage API keys over a service's API: ``list``,
``issue``, ``rotate``, ``revoke`` and ``audit`` (the work is in provenance/key_lifecycle.py).

``--participant ADDRESS|GLN|me`` manages a gateway participant's keys (with the regulator's
key, or a participant's own for ``me``); ``--reader`` the indexer's reader keys (with the
indexer's regulator reader key). Registered on the ``keys`` sub-app by :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from provenance.options import (
    DEFAULT_GATEWAY_URL,
    DEFAULT_INDEXER_URL,
    INDEXER_READER_KEY_FILES,
    REGULATOR_KEY_FILES,
    GatewayUrl,
    IndexerUrl,
)

Participant = Annotated[
    str | None,
    typer.Option(
        "--participant",
        help="Whose gateway keys: an address, a GLN, or `me` (the key file's owner).",
        show_default=False,
    ),
]
Reader = Annotated[
    bool, typer.Option("--reader", help="The indexer's reader keys instead of a participant's.")
]
KeyFile = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help=f"The caller's key. Default: the regulator's ({REGULATOR_KEY_FILES[0]}); with "
        f"--reader the indexer's regulator reader key ({INDEXER_READER_KEY_FILES[0]}).",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Out = Annotated[
    Path | None,
    typer.Option(
        "--key-out", help="File the new API key is written to (0600).", show_default=False
    ),
]
Show = Annotated[
    bool, typer.Option("--show-key", help="Also print the new API key (it is shown once).")
]
KeyId = Annotated[
    str,
    typer.Argument(
        help="The key: its id (from `keys list`) or the label of one live key.",
        show_default=False,
    ),
]
Expires = Annotated[
    datetime | None,
    typer.Option(
        "--expires",
        help="When the key stops working (ISO 8601, UTC if no zone); default never.",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
        show_default=False,
    ),
]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat() if moment.tzinfo else moment.isoformat() + "+00:00"


def _with_ring(
    participant: str | None,
    reader: bool,
    key_file: Path | None,
    gateway: str,
    indexer: str,
    as_json: bool,
    act: Callable[[Any, Any], int],
    *,
    every: bool = False,
) -> None:
    """Resolve whose keys, open the service and run ``act(ring, output)``; exit with its code."""
    from rich.console import Console

    from provenance import key_lifecycle as lifecycle
    from provenance.http import GATEWAY_WRITE_TIMEOUT, Service, read_key
    from provenance.options import default_key_file

    output = lifecycle.Output(Console(), as_json)

    def verb() -> int:
        if reader == (participant is not None) and not (every and not reader):
            raise lifecycle.KeysError("name whose keys: --participant ADDRESS|GLN|me, or --reader")
        if reader:
            path = default_key_file(key_file, INDEXER_READER_KEY_FILES, "indexer reader")
            url, name = indexer, "indexer"
        else:
            path = default_key_file(key_file, REGULATOR_KEY_FILES, "regulator")
            url, name = gateway, "gateway"
        with Service.at(name, url, timeout=GATEWAY_WRITE_TIMEOUT, api_key=read_key(path)) as svc:
            address = (
                None if participant is None else lifecycle.participant_address(svc, participant)
            )
            return act(lifecycle.Keyring(svc, address, reader), output)

    raise typer.Exit(lifecycle.run(verb, output))


def register(keys_app: typer.Typer) -> None:
    """Add ``list``, ``issue``, ``rotate``, ``revoke`` and ``audit`` to ``keys_app``."""

    @keys_app.command("list")
    def list_(
        participant: Participant = None,
        reader: Reader = False,
        key_file: KeyFile = None,
        gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
        indexer: IndexerUrl = DEFAULT_INDEXER_URL,
        as_json: AsJson = False,
    ) -> None:
        """List a participant's keys or the indexer's reader keys (never a secret).

        Exit code 0; 1 if refused (not the regulator, unknown participant); 2 if unusable."""
        from provenance import key_lifecycle as lifecycle

        _with_ring(participant, reader, key_file, gateway, indexer, as_json, lifecycle.list_keys)

    @keys_app.command()
    def issue(
        participant: Participant = None,
        reader: Reader = False,
        label: Annotated[str, typer.Option(help="What the key is for.")] = "",
        expires: Expires = None,
        batch_reader: Annotated[
            bool,
            typer.Option(
                "--batch-reader",
                help="Gateway: a read-only key for an indexer (the regulator's own keys only).",
            ),
        ] = False,
        role: Annotated[
            str | None,
            typer.Option(
                help="--reader: regulator, auditor, pharmacovigilance, inspector or participant.",
                show_default=False,
            ),
        ] = None,
        region: Annotated[
            str | None,
            typer.Option(help="--reader inspector: its region (ISO 3166-2, e.g. KG-GB)."),
        ] = None,
        address: Annotated[
            str | None,
            typer.Option(
                "--address",
                help="--reader participant: the participant's address (0x...); the key reads "
                "the EPCIS events it captured and those on the items it has held.",
                show_default=False,
            ),
        ] = None,
        out: Out = None,
        show: Show = False,
        key_file: KeyFile = None,
        gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
        indexer: IndexerUrl = DEFAULT_INDEXER_URL,
        as_json: AsJson = False,
    ) -> None:
        """Issue a new key, written to --key-out (0600).

        Exit code 0; 1 if refused (wrong role, too many keys); 2 if unusable."""
        from provenance import key_lifecycle as lifecycle

        body: dict[str, Any] = {"label": label, "expiresAt": _iso(expires)}
        if reader:
            body |= {"role": role or "auditor", "region": region}
            if address is not None:
                body["participant"] = address  # a role other than participant: refused (400)
        elif role is not None or region is not None or address is not None:
            # refused by the gateway's strict body
            body |= {"role": role, "region": region, "participant": address}
        if batch_reader:
            body["scope"] = "batch-reader"

        def act(ring: Any, output: Any) -> int:
            return lifecycle.issue_key(ring, body, out=out, show=show, output=output)

        _with_ring(participant, reader, key_file, gateway, indexer, as_json, act)

    @keys_app.command()
    def rotate(
        key_id: KeyId,
        participant: Participant = None,
        reader: Reader = False,
        grace: Annotated[
            str,
            typer.Option(help="How long the old key keeps working: 0, 90s, 15m, 24h, 7d."),
        ] = "24h",
        expires: Expires = None,
        out: Out = None,
        show: Show = False,
        key_file: KeyFile = None,
        gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
        indexer: IndexerUrl = DEFAULT_INDEXER_URL,
        as_json: AsJson = False,
    ) -> None:
        """Replace a key: the new one is written to --key-out, the old one works until --grace ends.

        Exit code 0; 1 if refused (unknown, revoked or expired key); 2 if unusable."""
        from provenance import key_lifecycle as lifecycle

        def act(ring: Any, output: Any) -> int:
            seconds = lifecycle.parse_duration(grace)
            return lifecycle.rotate_key(
                ring,
                key_id,
                grace_seconds=seconds,
                expires_at=_iso(expires),
                out=out,
                show=show,
                output=output,
            )

        _with_ring(participant, reader, key_file, gateway, indexer, as_json, act)

    @keys_app.command()
    def revoke(
        key_id: KeyId,
        participant: Participant = None,
        reader: Reader = False,
        key_file: KeyFile = None,
        gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
        indexer: IndexerUrl = DEFAULT_INDEXER_URL,
        as_json: AsJson = False,
    ) -> None:
        """Revoke a key at once.

        Exit code 0; 1 if refused (not yours, unknown key); 2 if unusable."""
        from provenance import key_lifecycle as lifecycle

        def act(ring: Any, output: Any) -> int:
            return lifecycle.revoke_key(ring, key_id, output)

        _with_ring(participant, reader, key_file, gateway, indexer, as_json, act)

    @keys_app.command()
    def audit(
        participant: Participant = None,
        reader: Reader = False,
        since: Annotated[
            datetime | None,
            typer.Option(help="Only operations from this time on (ISO 8601).", show_default=False),
        ] = None,
        key_file: KeyFile = None,
        gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
        indexer: IndexerUrl = DEFAULT_INDEXER_URL,
        as_json: AsJson = False,
    ) -> None:
        """Every key operation (who, when, what, which key): the gateway's, one participant's
        with --participant, or the indexer's with --reader (the regulator).

        Exit code 0; 1 if refused; 2 if unusable."""
        from provenance import key_lifecycle as lifecycle

        def act(ring: Any, output: Any) -> int:
            return lifecycle.audit(ring, output, since=_iso(since))

        whose = participant if participant is not None or reader else None
        _with_ring(whose, reader, key_file, gateway, indexer, as_json, act, every=whose is None)
