"""Master data (docs/masterdata.md): import a file, read a record, prove it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool

from gateway.api.deps import ActiveParticipantDep, CaptureDep, ParticipantDep, ReceiptsDep
from gateway.api.schemas import MasterDataImported
from medledger.errors import UnsupportedMediaTypeError
from servicekit.http.bodies import StrictJSONRoute

masterdata = APIRouter(prefix="/masterdata", tags=["masterdata"], route_class=StrictJSONRoute)

_MEDIA = {
    "text/csv": "csv",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/json": "json",
    "application/ld+json": "json",
}
_INTEGRITY: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "Not anchored yet (`not-anchored`); or what is stored no longer verifies "
        "(`integrity`), so it is not served"
    }
}


def _media(content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in _MEDIA:
        raise UnsupportedMediaTypeError(
            "master data is imported as text/csv, EPCIS XML (application/xml) or JSON-LD "
            f"(application/ld+json), not {media or 'a body without a Content-Type'}",
            rule="masterdata.media-type",
        )
    return _MEDIA[media]


@masterdata.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MasterDataImported,
    summary="Import master data: CSV, an EPCISMasterDataDocument (XML or JSON-LD)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/xml": {"schema": {"type": "string"}},
                "application/ld+json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def post_masterdata(
    request: Request, captures: CaptureDep, participant: ActiveParticipantDep
) -> MasterDataImported:
    """Every location and product record of the file, stored and anchored in the caller's next
    batch; all or nothing (a record that does not check, or that the caller may not declare,
    is refused with its rule and pointer, `/<line>/<column>` for CSV)."""
    media = _media(request.headers.get("content-type"))
    body = await request.body()
    imported = await run_in_threadpool(lambda: captures.import_masterdata(participant, body, media))
    return MasterDataImported(
        masterdataIDs=list(imported.record_ids),
        stored=imported.stored,
        duplicates=imported.duplicates,
    )


@masterdata.get(
    "/{record_id:path}/receipt",
    summary="The receipt proving an anchored master data record",
    responses=_INTEGRITY,
)
def get_masterdata_receipt(
    record_id: str, receipts: ReceiptsDep, reader: ParticipantDep
) -> dict[str, Any]:
    """The receipt (kind `masterdata`, the record embedded): verify it with `provenance verify`.
    The id is `ni:///sha-256;…?ver=CBV2.0&masterdata` (percent-encoded) or its 64 hex digits."""
    return receipts.masterdata_receipt(reader, record_id).to_json()


@masterdata.get(
    "/{record_id:path}",
    summary="One master data record, as stored",
    responses=_INTEGRITY,
)
def get_masterdata(record_id: str, receipts: ReceiptsDep, reader: ParticipantDep) -> dict[str, Any]:
    """The stored record, once it re-digests to its id (409 `integrity` otherwise)."""
    document: dict[str, Any] = receipts.masterdata_document(reader, record_id)
    return document
