"""Who may have declared a master data record, checked again by the index (docs/masterdata.md,
"Authority"): the regulator anything; a participant its own GLN and the GLNs and GTINs under its
company prefixes, by the registry the index mirrors from the chain. A gateway that anchored
another's master data is not believed: the record is left out of the index (and logged)."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.store.models import ParticipantRow
from medledger.custody.state import Participant
from medledger.masterdata.authority import may_declare
from medledger.masterdata.record import read_record
from medledger.roles import Role

log = logging.getLogger("provenance.indexer")


def authorised(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``ix_masterdata`` rows whose declarer may declare their record."""
    if not rows:
        return []
    declarers = {r["declared_by"] for r in rows}
    registry = {
        p.address.lower(): p
        for p in session.scalars(select(ParticipantRow))
        if p.address.lower() in {d.lower() for d in declarers}
    }
    kept = []
    for row in rows:
        found = registry.get(row["declared_by"].lower())
        allowed = found is not None and may_declare(
            Participant(
                address=found.address,
                roles=found.roles,
                gln=found.gln,
                active=True,
                company_prefixes=tuple(found.company_prefixes.split()),
            ),
            read_record(json.loads(row["raw"])),
            regulator=bool(found.roles & Role.REGULATOR),
        )
        if allowed:
            kept.append(row)
        else:
            log.warning(
                "master data record 0x%s of %s left out: not its declarer's to declare",
                row["record_hash"].hex(),
                row["declared_by"],
            )
    return kept
