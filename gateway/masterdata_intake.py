"""Master data into the gateway (docs/masterdata.md): the records a document's header (or an
imported file) carries, checked against who may declare them, ready to store.

A record is refused (and with it the whole document: master data is all or nothing, under
``GS1-Capture-Error-Behaviour: proceed`` too) when it does not check (rules ``masterdata.*``),
when the declarer may not declare it (``masterdata.not-yours``: the regulator may declare
anything, a participant its own GLN and the GLNs and GTINs under its company prefixes; a record
the gateway already stores is a duplicate anyone may repeat, as in a partner's export whose
master data this network's regulator imported first: docs/exchange.md), or when
its stored JSON would not re-digest to it (``event.rehash``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.store.masterdata import MasterDataEntry, known_records
from gateway.store.participants import ParticipantRecord
from medledger.errors import ValidationError
from medledger.masterdata.authority import check_authority
from medledger.masterdata.csv_import import records_from_csv
from medledger.masterdata.documents import records_from_document
from medledger.masterdata.record import MasterDataRecord, masterdata_digest
from medledger.masterdata.xml import records_from_xml
from medledger.roles import Role
from servicekit.http import strict_json

REHASH_RULE = "event.rehash"


def declared_entries(
    participant: ParticipantRecord,
    records: Sequence[MasterDataRecord],
    session: Session | None = None,
) -> list[MasterDataEntry]:
    """``records`` as entries to store, once ``participant`` may declare each. With a
    ``session``, a record the gateway stores already (the same digest: declared by whoever
    might, the regulator importing a partner's export among them) needs no authority: it is
    a duplicate, stored and anchored by no one again, so repeating it declares nothing."""
    known = known_records(session, [r.digest for r in records]) if session else set()
    check_authority(
        participant.to_custody(),
        [r for r in records if r.digest not in known],
        regulator=bool(participant.roles & Role.REGULATOR),
    )
    entries = [MasterDataEntry.of(r) for r in records]
    for entry in entries:
        if masterdata_digest(json.loads(entry.raw)) != entry.record.digest:
            raise ValidationError(
                f"{entry.record.element_id}: the record would not re-digest from its stored JSON",
                rule=REHASH_RULE,
            )
    return entries


def file_records(body: bytes, media: str, received: datetime) -> list[MasterDataRecord]:
    """The records of an imported file (``POST /masterdata``): ``media`` ``csv`` (the columns of
    docs/masterdata.md), ``xml`` (an EPCISMasterDataDocument, or an EPCIS document's header) or
    ``json`` (likewise, JSON-LD). A file without any master data is refused."""
    if media == "csv":
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("a CSV file is UTF-8", rule="masterdata.csv") from None
        records = records_from_csv(text, received=received)
    elif media == "xml":
        records = records_from_xml(body, received=received)
    else:
        document = strict_json.loads(body)
        if not isinstance(document, dict):
            raise ValidationError(
                "the body must be an EPCISMasterDataDocument JSON object",
                rule="masterdata.shape",
                pointer="",
            )
        records = records_from_document(document, received=received)
    if not records:
        raise ValidationError(
            "the file has no location or product master data", rule="masterdata.empty"
        )
    return records


def header_entries(
    participant: ParticipantRecord,
    document: Mapping[str, Any],
    received: datetime,
    session: Session | None = None,
) -> list[MasterDataEntry]:
    """The master data of a captured document's header (none when it has none); with a
    ``session``, records already stored are duplicates anyone may repeat
    (:func:`declared_entries`)."""
    records = records_from_document(document, received=received)
    return declared_entries(participant, records, session) if records else []
