"""Lots and codes (docs/codes.md): declare a lot, issue codes, list them, print them."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from gateway import code_issuance
from gateway.api.deps import ActiveParticipantDep, LotsDep, ParticipantDep
from gateway.api.schemas import CodePublic, CodesCreate, LotCreate, LotPublic
from gateway.services.lots import LotsService
from gateway.store.lots import CodeLot
from gateway.store.participants import ParticipantRecord
from medledger.errors import NotFoundError
from servicekit.http.bodies import StrictJSONRoute

lots = APIRouter(prefix="/lots", tags=["codes"], route_class=StrictJSONRoute)
codes = APIRouter(prefix="/codes", tags=["codes"], route_class=StrictJSONRoute)

MEDIA = {"png": "image/png", "svg": "image/svg+xml"}

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not a manufacturer, or not the lot's declarer"},
    404: {"description": "The lot is not declared"},
    409: {"description": "Past the declared packs, declared otherwise, or registered by another"},
    422: {"description": "Malformed GTIN, lot, expiry, packs or count"},
    502: {"description": "The chain transaction failed: nothing was recorded"},
}


def _lot_public(record: CodeLot) -> LotPublic:
    return LotPublic(
        gtin=record.gtin,
        lot=record.lot,
        expiry=record.expiry,
        packs=record.packs,
        issued=record.issued,
        remaining=record.remaining,
        participant=record.participant,
        releasedBy=record.released_by,
        registerTx=record.register_tx,
        declaredAt=record.declared_at,
    )


def _code_public(code: code_issuance.IssuedCode, kind: str) -> CodePublic:
    return CodePublic(
        serial=code.serial,
        gtin=code.gtin,
        lot=code.lot,
        expiry=code.expiry,
        identifier=code.identifier,
        uri=code.uri,
        text=code.text,
        eventID=code.event_id,
        issuedAt=code.issued_at,
        image=f"/codes/{code.gtin}/{quote(code.lot, safe='')}/{code.serial}.{kind}",
    )


#: The same declaration again: 200 with the first one (a LotPublic, not a problem).
_DECLARED_AGAIN: dict[int | str, dict[str, Any]] = {
    200: {"model": LotPublic, "description": "The same declaration again: the first one"}
}


@lots.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=LotPublic,
    responses=_DECLARED_AGAIN | _ERRORS,
)
def post_lot(
    body: LotCreate, response: Response, service: LotsDep, participant: ActiveParticipantDep
) -> LotPublic:
    """Declare a lot's pack count and release it (a manufacturer): the gateway registers the
    batch in the recall registry with the participant's custodial key, then records the
    declaration. **201**; the same declaration again answers **200** with the first one."""
    record, new = service.declare(
        participant, gtin=body.gtin, lot=body.lot, expiry=body.expiry, packs=body.packs
    )
    if not new:
        response.status_code = status.HTTP_200_OK
    return _lot_public(record)


@lots.get("/{gtin}/{lot:path}", response_model=LotPublic)
def get_lot(gtin: str, lot: str, service: LotsDep, reader: ParticipantDep) -> LotPublic:
    """A declared lot: packs, codes issued and left (its declarer, the regulator, auditors)."""
    return _lot_public(service.lot(reader, gtin, lot))


@codes.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=list[CodePublic],
    responses=_ERRORS,
)
async def post_codes(
    body: CodesCreate, service: LotsDep, participant: ActiveParticipantDep
) -> list[CodePublic]:
    """Issue `count` unique serials of a declared lot and commission them (one commissioning
    event through the normal intake: rules, storage, anchoring), all-or-nothing; 409 past the
    declared packs, with nothing stored."""
    issued = await run_in_threadpool(
        lambda: service.issue_codes(
            participant, gtin=body.gtin, lot=body.lot, count=body.count, expiry=body.expiry
        )
    )
    return [_code_public(c, body.format) for c in issued]


@codes.get("/{gtin}/{lot:path}/sheet.svg", response_class=Response)
def get_sheet(
    gtin: str,
    lot: str,
    service: LotsDep,
    reader: ParticipantDep,
    columns: Annotated[int, Query(ge=1, le=20)] = 4,
) -> Response:
    """Every code of the lot on one SVG page, each with its human-readable text."""
    issued = service.codes(reader, gtin, lot)
    body = code_issuance.sheet_svg(issued, columns=columns)
    return Response(body, media_type=MEDIA["svg"])


def _image(
    gtin: str,
    lot: str,
    serial: str,
    kind: str,
    scale: int,
    service: LotsService,
    reader: ParticipantRecord,
) -> Response:
    code = service.code(reader, gtin, serial)
    if code.lot != lot:
        raise NotFoundError(f"no code {serial} in lot {lot} of GTIN {gtin}")
    body = code_issuance.render(code.uri, kind, scale=scale)
    return Response(
        body,
        media_type=MEDIA[kind],
        headers={"Content-Disposition": f'inline; filename="{serial}.{kind}"'},
    )


@codes.get("/{gtin}/{lot:path}/{serial}.png", response_class=Response)
def get_png(
    gtin: str,
    lot: str,
    serial: str,
    service: LotsDep,
    reader: ParticipantDep,
    scale: Annotated[int, Query(ge=1, le=40, description="pixels per module")] = 8,
) -> Response:
    """The code's QR code (its `uri`) as a PNG, for sticker printing."""
    return _image(gtin, lot, serial, "png", scale, service, reader)


@codes.get("/{gtin}/{lot:path}/{serial}.svg", response_class=Response)
def get_svg(
    gtin: str,
    lot: str,
    serial: str,
    service: LotsDep,
    reader: ParticipantDep,
    scale: Annotated[int, Query(ge=1, le=40, description="units per module")] = 8,
) -> Response:
    """The code's QR code (its `uri`) as an SVG."""
    return _image(gtin, lot, serial, "svg", scale, service, reader)


@codes.get("/{gtin}/{lot:path}", response_model=list[CodePublic])
def list_codes(
    gtin: str,
    lot: str,
    service: LotsDep,
    reader: ParticipantDep,
    format: Literal["png", "svg"] = "png",  # noqa: A002
) -> list[CodePublic]:
    """The codes issued for a lot, in issue order (its declarer, the regulator, auditors)."""
    return [_code_public(c, format) for c in service.codes(reader, gtin, lot)]
