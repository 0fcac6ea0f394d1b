"""Reading what was anchored: events and their receipts, batches, anchors."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query

from gateway.api.deps import BatchReaderDep, ParticipantDep, ReceiptsDep
from gateway.api.schemas import AnchorPublic, BatchEventPublic, BatchPublic, PastAnchorPublic
from medledger.errors import NotAnchoredYetError
from servicekit.http.bodies import StrictJSONRoute

events = APIRouter(prefix="/events", tags=["events"], route_class=StrictJSONRoute)
batches = APIRouter(prefix="/batches", tags=["batches"], route_class=StrictJSONRoute)
anchors = APIRouter(prefix="/anchors", tags=["batches"], route_class=StrictJSONRoute)
declarations = APIRouter(prefix="/declarations", tags=["events"], route_class=StrictJSONRoute)

_INTEGRITY: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "Not anchored yet (`not-anchored`); or what is stored no longer verifies "
        "(`integrity`: its `rule`, `event_ids` and `root`), so it is not served"
    }
}


@events.get(
    "/{event_id:path}/receipt",
    summary="The receipt proving an anchored event",
    responses=_INTEGRITY,
)
def get_receipt(event_id: str, receipts: ReceiptsDep, reader: ParticipantDep) -> dict[str, Any]:
    """The receipt (version 1, event embedded): verify it with `provenance verify`.

    The event id is the `ni:///sha-256;…?ver=CBV2.0` URI (percent-encoded) or its 64 hex digits.
    """
    return receipts.receipt(reader, event_id).to_json()


@events.get(
    "/{event_id:path}", summary="One event, as captured (with its @context)", responses=_INTEGRITY
)
def get_event(event_id: str, receipts: ReceiptsDep, reader: ParticipantDep) -> dict[str, Any]:
    """The event as stored, once it re-hashes to its id (409 `integrity` otherwise)."""
    return receipts.event_document(reader, event_id)


@declarations.get(
    "/{declaration_id:path}/receipt",
    summary="The receipt proving an anchored error declaration",
    responses=_INTEGRITY,
)
def get_declaration_receipt(
    declaration_id: str, receipts: ReceiptsDep, reader: ParticipantDep
) -> dict[str, Any]:
    """The receipt (kind `errorDeclaration`, the declaration embedded): verify it with
    `provenance verify`. The id is `ni:///sha-256;…?ver=CBV2.0&declaration` (percent-encoded)
    or its 64 hex digits, as `POST /capture` answered it under `declarationIDs`."""
    return receipts.declaration_receipt(reader, declaration_id).to_json()


@declarations.get(
    "/{declaration_id:path}",
    summary="One error declaration, as stored (the declared event's id, the declaration)",
    responses=_INTEGRITY,
)
def get_declaration(
    declaration_id: str, receipts: ReceiptsDep, reader: ParticipantDep
) -> dict[str, Any]:
    """The stored declaration, once it re-digests to its id (409 `integrity` otherwise)."""
    document: dict[str, Any] = receipts.declaration_document(reader, declaration_id)
    return document


@batches.get("/{root}", response_model=BatchPublic, responses=_INTEGRITY)
def get_batch(root: str, receipts: ReceiptsDep, reader: BatchReaderDep) -> BatchPublic:
    """A batch's events and salts: for the regulator, auditors and the batch's submitter; 409
    `integrity` unless every event re-hashes and they rebuild the batch's root."""
    contents = receipts.batch(reader, root)
    batch = contents.batch
    return BatchPublic(
        root="0x" + (batch.root or b"").hex(),
        participant=batch.participant,
        state=batch.state,
        eventCount=batch.event_count,
        txHash=batch.tx_hash,
        blockNumber=batch.block_number,
        blockHash=batch.block_hash,
        events=[
            BatchEventPublic(
                kind=e.kind,  # type: ignore[arg-type]
                eventID=e.event_id,
                eventHash="0x" + e.event_hash.hex(),
                salt="0x" + e.salt.hex(),
                event=json.loads(e.raw),
            )
            for e in contents.events
        ],
    )


_ANCHOR_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "The gateway recorded no such anchor (or you may not read its batch)"},
    409: {"description": "Re-included in a block without the configured confirmations yet"},
    410: {
        "description": "No longer the anchor (a reorganisation took it away or moved it): the "
        "problem names the old anchor and, under `current`, the anchor that replaced it"
    },
    422: {"description": "Not a transaction hash"},
}


@anchors.get("/{tx_hash}", response_model=AnchorPublic, responses=_ANCHOR_ERRORS)
def get_anchor(
    tx_hash: str,
    receipts: ReceiptsDep,
    reader: ParticipantDep,
    block: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="the block a receipt names")
    ] = None,
) -> AnchorPublic:
    """Is the anchor a receipt names (its `tx_hash`, and `block_number` as `?block=`) still the
    anchor of its batch? 200 if so; 410 problem+json with a pointer to the new anchor if a
    reorganisation replaced it (see docs/gateway.md#reorganisations)."""
    found = receipts.anchor(reader, tx_hash, block)
    batch = found.batch
    if batch.tx_hash is None or batch.block_number is None or batch.root is None:
        # current anchors have all three; should one not, it is not (yet) an anchor to show
        raise NotAnchoredYetError(f"transaction {tx_hash}: its batch's anchor is not recorded yet")
    root = "0x" + batch.root.hex()
    return AnchorPublic(
        txHash=batch.tx_hash,
        blockNumber=batch.block_number,
        blockHash=batch.block_hash,
        root=root,
        participant=batch.participant,
        batch=f"/batches/{root}",
        anchoredAt=batch.anchored_at,
        previous=[
            PastAnchorPublic(
                txHash=p.tx_hash,
                blockNumber=p.block_number,
                blockHash=p.block_hash,
                outcome=p.outcome,  # type: ignore[arg-type]
                anchoredAt=p.anchored_at,
                endedAt=p.ended_at,
            )
            for p in found.previous
        ],
    )
