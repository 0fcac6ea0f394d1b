"""``/dashboard/lot``: one lot (product, expiry, maker, holders and counts by status, its origin:
API lots, makers, mass balance) with the **Recall** button, and its suspension pending
investigation with the **Suspend**, **Lift** and **Escalate** buttons (docs/suspensions.md);
``/dashboard/recall``: its recall (scope by holder and region, who the gateway notified and
each delivery, progress since the recall: packs still on shelves, returned, destroyed,
dispensed after the recall) with the **Release** button.

A button is a form: ``POST /dashboard/lot/recall`` (or ``/release``, ``/suspend`` with a case
number, ``/lift``, ``/escalate``) with a reason answers a confirmation page; its ``Confirm``
posts again with ``confirm=yes``, and only then the dashboard calls the gateway as the CLI does
(:mod:`dashboard.recall_gateway`, with the regulator's gateway key the indexer is configured
with). Only a regulator's session sees the buttons; any other's POST is 403. All are
CSRF-checked like the alerts' triage. Each call the gateway accepts is logged with who pressed
it (:mod:`dashboard.lot_actions`), listed on both pages. Regulators and auditors read these
pages; an inspector's key does not open them (403)."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from dashboard import lot_actions
from dashboard.adverse_reports_page import reports_url
from dashboard.i18n import messages
from dashboard.lot_view import (
    LIVE,
    PROGRESS,
    Lot,
    origin_of,
    progress,
    read_lot,
    recall_on_chain,
)
from dashboard.recall_gateway import GatewayRefused, RecallGateway
from dashboard.render import render
from dashboard.sessions import SignedIn
from dashboard.signin import HEADERS, SignedInDep, check_csrf, form_fields, language_of, same_origin
from dashboard.trace_page import participant_label
from indexer import adverse_reports
from indexer.api.deps import ServiceDep
from indexer.queries.common import participants
from indexer.queries.masterdata import product_facts
from indexer.reader_keys import FULL_READERS, PHARMACOVIGILANCE_READERS
from indexer.service import IndexerService
from indexer.store.models import AlertRow, DashboardActionRow, RecallRow
from medledger.epcis import gs1
from medledger.epcis.digital_link import lot_of_class
from medledger.errors import ValidationError
from servicekit.sql.helpers import utcnow

LOT: Final = "/dashboard/lot"
RECALL: Final = "/dashboard/recall"
RECALLS: Final = "/dashboard/recalls"
#: recalls listed on the recalls page (newest change first)
MAX_LISTED: Final = 500
MAX_REASON: Final = 500
MAX_CASE: Final = 32
#: the buttons: a recall and its release, a suspension, its lifting and its escalation
CHANGES: Final = ("recall", "release", "suspend", "lift", "escalate")
#: changes that need a reason (the others take one if given)
NEED_REASON: Final = ("recall", "suspend", "escalate")
STATUSES: Final = ("active", "in_transit", "dispensed", "destroyed", "decommissioned")

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
Text = Annotated[str, Query(max_length=64)]


def gateway_of(request: Request) -> RecallGateway | None:
    """The gateway the buttons reach (``mount``'s ``recalls``), or None: not configured."""
    found: RecallGateway | None = getattr(request.app.state, "dashboard_recalls", None)
    return found


def url_of(path: str, gtin: str, lot: str, language: str) -> str:
    return f"{path}?{urlencode({'gtin': gtin, 'lot': lot, 'lang': language})}"


def _checked(gtin: str, lot: str) -> tuple[str, str] | None:
    try:
        return gs1.gtin(gtin), gs1.lot(lot)
    except ValidationError:
        return None


def _latest_recall(gateway: RecallGateway | None, gtin: str, lot: str) -> tuple[Any, str]:
    """The gateway's latest recall of the lot (None: none), or why it could not be read."""
    if gateway is None:
        return None, ""
    try:
        found = gateway.recalls_of(gtin, lot)
    except GatewayRefused as exc:
        return None, exc.detail
    return (found[-1] if found else None), ""


def _latest_suspension(gateway: RecallGateway | None, gtin: str, lot: str) -> tuple[Any, str]:
    """The gateway's latest suspension of the lot (None: none), or why it could not be read."""
    if gateway is None:
        return None, ""
    try:
        found = gateway.suspensions_of(gtin, lot)
    except GatewayRefused as exc:
        return None, exc.detail
    return (found[-1] if found else None), ""


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    body = render(request, template, language_of(request), **context)
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def _lot_page(
    request: Request,
    service: IndexerService,
    signed: SignedIn,
    gtin: str,
    lot: str,
    *,
    problem: str | None = None,
    status: int = 200,
    reason: str = "",
    case: str = "",
) -> HTMLResponse:
    t = messages(language_of(request))
    checked = _checked(gtin, lot)
    found: Lot | None = None
    reports = 0
    actions: list[DashboardActionRow] = []
    origin: dict[str, Any] | None = None
    no_origin = ""
    if signed.role not in FULL_READERS:
        problem, status = t["lot.not_for_role"], 403
    elif checked is None:
        problem, status = t["lot.unknown"], 404
    else:
        with service.sessions() as session:
            found = read_lot(session, *checked)
            if found is not None:
                origin, no_origin = origin_of(session, found, service.deployment)
                if origin is not None:
                    found.known.update(origin.get("participants") or {})
                reports = adverse_reports.counts(session, found.gtin, [found.lot])[found.lot]
                actions = lot_actions.of_lot(session, found.gtin, found.lot)
        if found is None:
            problem, status = t["lot.unknown"], 404
    gateway = gateway_of(request)
    at_gateway, unreachable = (None, "")
    suspension: Any = None
    if found is not None:
        at_gateway, unreachable = _latest_recall(gateway, found.gtin, found.lot)
        suspension, unread = _latest_suspension(gateway, found.gtin, found.lot)
        unreachable = unreachable or unread
    recalled = (
        at_gateway["state"] == "recalled"
        if at_gateway is not None
        else bool(found and found.recalled)
    )
    if suspension is not None:
        suspended = suspension["state"] == "suspended"
        case_number = suspension.get("caseNumber")
    else:
        suspended = bool(found and found.suspended)
        case_number = found.recall.case_number if found and found.recall else None
    return _page(
        request,
        "lot.html",
        status,
        signed=signed,
        found=found,
        origin=origin,
        no_origin=no_origin,
        problem=problem,
        statuses=STATUSES,
        who=lambda address: participant_label(found.known if found else {}, address),
        class_of=_class_of,
        recalled=recalled,
        suspended=suspended and not recalled,
        case_number=case_number,
        at_gateway=at_gateway,
        unreachable=unreachable,
        configured=gateway is not None,
        may_recall=signed.role == "regulator",
        reason=reason,
        case=case,
        lot_url=LOT,
        recall_url=url_of(RECALL, found.gtin, found.lot, language_of(request)) if found else "",
        adverse_reports=reports,
        actions=actions,
        reports_url=reports_url(found.gtin, found.lot, language_of(request))
        if found and signed.role in PHARMACOVIGILANCE_READERS
        else None,
    )


def _class_of(identifier: str | None) -> str:
    """An API lot as a person reads it: its lot and GTIN, else the identifier as given."""
    found = lot_of_class(identifier or "")
    return f"{found[1]} · GTIN {found[0]}" if found is not None else identifier or ""


@router.get(LOT, response_class=HTMLResponse)
def lot_page(
    request: Request, service: ServiceDep, signed: SignedInDep, gtin: Text = "", lot: Text = ""
) -> HTMLResponse:
    return _lot_page(request, service, signed, gtin, lot)


@router.post(LOT + "/{change}")
async def change_recall(
    request: Request,
    service: ServiceDep,
    signed: SignedInDep,
    change: str,
    gtin: Text = "",
    lot: Text = "",
) -> Response:
    """Recall or release, suspend, lift or escalate (``change``): the confirmation page, then
    (``confirm=yes``) the call."""
    same_origin(request)
    fields = await form_fields(request)
    check_csrf(signed, fields)
    language = language_of(request)
    t = messages(language)
    reason = fields.get("reason", "").strip()[:MAX_REASON]
    case = fields.get("case", "").strip()[:MAX_CASE]
    if change not in CHANGES:
        return _lot_page(request, service, signed, gtin, lot, problem=t["lot.unknown"], status=404)
    if signed.role != "regulator":
        return _lot_page(
            request, service, signed, gtin, lot, problem=t["lot.may_not_recall"], status=403
        )
    gateway = gateway_of(request)
    checked = _checked(gtin, lot)
    if gateway is None or checked is None:
        problem = t["lot.not_configured"] if gateway is None else t["lot.unknown"]
        return _lot_page(request, service, signed, gtin, lot, problem=problem, status=409)
    if change in NEED_REASON and not reason:
        return _lot_page(
            request,
            service,
            signed,
            gtin,
            lot,
            problem=t["lot.reason_needed." + change],
            status=422,
            case=case,
        )
    if change == "suspend" and not case:
        return _lot_page(
            request,
            service,
            signed,
            gtin,
            lot,
            problem=t["lot.case_needed"],
            status=422,
            reason=reason,
        )
    if fields.get("confirm") != "yes":
        with service.sessions() as session:
            found = read_lot(session, *checked)
        if found is None:
            return _lot_page(request, service, signed, gtin, lot)
        live = [r for r in found.summary if r["status"] in LIVE]
        return _page(
            request,
            "confirm.html",
            signed=signed,
            change=change,
            found=found,
            reason=reason,
            case=case,
            packs=sum(r["count"] for r in live),
            holders=[participant_label(found.known, h) for h in {r["holder"] for r in live}],
            action=f"{LOT}/{change}?{urlencode({'gtin': gtin, 'lot': lot, 'lang': language})}",
            back=url_of(LOT, *checked, language),
        )
    try:
        done = _send(gateway, change, checked, reason, case)
    except GatewayRefused as exc:
        status = exc.status if exc.status in (403, 404, 409, 422) else 502
        problem = f"{t['lot.gateway_refused']} {exc.detail}"
        return _lot_page(
            request,
            service,
            signed,
            gtin,
            lot,
            problem=problem,
            status=status,
            reason=reason,
            case=case,
        )
    with service.write_sessions() as session, session.begin():
        lot_actions.record(
            session, signed, change, checked, reason=reason, case=case, done=done, now=utcnow()
        )
    log.info(
        "%s of lot %s of GTIN %s requested from the dashboard by %s (key %s): %s %s, %s notified",
        change,
        checked[1],
        checked[0],
        signed.name,
        signed.key_id,
        "suspension" if change in ("suspend", "lift", "escalate") else "recall",
        done.get("id"),
        done.get("notified"),
    )
    after = LOT if change in ("suspend", "lift") else RECALL
    return RedirectResponse(url_of(after, *checked, language), status_code=303)


def _send(
    gateway: RecallGateway, change: str, lot: tuple[str, str], reason: str, case: str
) -> dict[str, Any]:
    """The gateway call a button makes, as the CLI makes it."""
    if change == "suspend":
        return gateway.suspend(*lot, case, reason)
    send = {
        "recall": gateway.recall,
        "release": gateway.release,
        "lift": gateway.lift,
        "escalate": gateway.escalate,
    }[change]
    return send(*lot, reason)


@router.get(RECALL, response_class=HTMLResponse)
def recall_page(
    request: Request, service: ServiceDep, signed: SignedInDep, gtin: Text = "", lot: Text = ""
) -> HTMLResponse:
    language = language_of(request)
    t = messages(language)
    checked = _checked(gtin, lot)
    if signed.role not in FULL_READERS or checked is None:
        return _lot_page(request, service, signed, gtin, lot)
    gateway = gateway_of(request)
    at_gateway, unreachable = _latest_recall(gateway, *checked)
    notified: list[dict[str, Any]] = []
    if gateway is not None and at_gateway is not None:
        try:
            notified = gateway.notifications(at_gateway["id"])
        except GatewayRefused as exc:
            unreachable = exc.detail
    with service.sessions() as session:
        found = read_lot(session, *checked)
        if found is None:
            return _lot_page(request, service, signed, gtin, lot)
        on_chain = recall_on_chain(session, *checked)
        went = progress(session, found, on_chain) if on_chain is not None else None
        actions = lot_actions.of_lot(session, *checked)
        found.known.update(
            participants(session, [n["participant"] for n in notified if n.get("participant")])
        )
        after_recall = session.scalar(
            select(func.count())
            .select_from(AlertRow)
            .where(
                AlertRow.kind == "dispensed-after-recall",
                AlertRow.evidence["lot"].as_string() == found.identifier,
            )
        )
    by_region: dict[str, int] = {}
    for holder in found.holders():
        live = sum(holder["counts"].get(s, 0) for s in LIVE)
        if live:
            region = holder["region"] or t["recall.no_region"]
            by_region[region] = by_region.get(region, 0) + live
    recalled = at_gateway["state"] == "recalled" if at_gateway is not None else on_chain is not None
    return _page(
        request,
        "recall.html",
        signed=signed,
        found=found,
        on_chain=on_chain,
        progress=went,
        categories=PROGRESS,
        actions=actions,
        at_gateway=at_gateway,
        notified=notified,
        unreachable=unreachable,
        configured=gateway is not None,
        recalled=recalled,
        by_region=sorted(by_region.items()),
        after_recall=after_recall or 0,
        statuses=STATUSES,
        live=LIVE,
        who=lambda address: participant_label(found.known, address),
        may_recall=signed.role == "regulator",
        lot_url=url_of(LOT, *checked, language),
        release_action=f"{LOT}/release?{urlencode({'gtin': gtin, 'lot': lot, 'lang': language})}",
        alerts_url="/dashboard/alerts?"
        + urlencode({"kind": "dispensed-after-recall", "lang": language}),
    )


@router.get(RECALLS, response_class=HTMLResponse)
def recalls_page(request: Request, service: ServiceDep, signed: SignedInDep) -> HTMLResponse:
    """Every lot the registry recalled (in force first, then released), newest change first,
    each linked to its recall page."""
    language = language_of(request)
    t = messages(language)
    if signed.role not in FULL_READERS:
        return _page(
            request, "recalls.html", 403, signed=signed, rows=[], problem=t["lot.not_for_role"]
        )
    with service.sessions() as session:
        found = list(
            session.scalars(
                select(RecallRow)
                .where(RecallRow.by.is_not(None))
                .order_by(RecallRow.recalled.desc(), RecallRow.changed_block.desc())
                .limit(MAX_LISTED)
            )
        )
        products = product_facts(session, {r.gtin for r in found})
    rows = [
        {
            "gtin": r.gtin,
            "lot": r.lot,
            "recalled": r.recalled,
            "block": r.changed_block,
            "product": (products.get(r.gtin) or {}).get("name"),
            "url": url_of(RECALL, r.gtin, r.lot, language),
        }
        for r in found
    ]
    return _page(request, "recalls.html", signed=signed, rows=rows, problem=None)
