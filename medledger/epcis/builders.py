"""EPCIS 2.0 events as a participant sends them: one set of builders for the demo, the simulator,
the benchmarks and the tests.

Each builder returns the JSON-LD dict of one event (``eventTime`` in UTC, written with ``Z``),
and :func:`as_document` wraps events in the EPCISDocument a participant posts to ``/capture``.
An event at a participant's own site (commissioning, transformation, aggregation, observation,
dispensing, destruction, decommissioning) has its ``readPoint`` and ``bizLocation`` there; a
transfer (shipping, receiving) names both owning parties and is read at the sender's site when
shipped, at the receiver's when received. Pure: no I/O.

Key order is part of an event's JSON text (the gateway stores what it was sent), not of its
hash (CBV 2.0 orders properties canonically); the builders keep the order the demo has always
sent, so its receipts read the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from medledger.epcis.gs1 import check_digit
from medledger.epcis.terms import MPL_NAMESPACE
from medledger.roles import Role

Event = dict[str, Any]
Quantities = list[dict[str, Any]]

EPCIS_CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
#: ``creationDate`` of every document :func:`as_document` writes.
CREATION_DATE = "2026-11-26T00:00:00Z"


def gln(company_prefix: str, location: str) -> str:
    """A 13-digit GLN: the company prefix, then ``location``, zero-padded, and a check digit."""
    body = (company_prefix + location).ljust(12, "0")[:12]
    return body + str(check_digit(body))


@dataclass(frozen=True)
class Actor:
    """A participant: who it is, its roles, and its company prefix (its GLN and site from it)."""

    name: str
    roles: Role
    company_prefix: str

    @property
    def gln(self) -> str:
        return gln(self.company_prefix, "1")

    @property
    def sgln(self) -> str:
        prefix = self.company_prefix
        return f"urn:epc:id:sgln:{prefix}.{self.gln[len(prefix) : 12]}.0"

    @property
    def pgln(self) -> str:
        prefix = self.company_prefix
        return f"urn:epc:id:pgln:{prefix}.{self.gln[len(prefix) : 12]}"

    def registration(self, **extra: Any) -> dict[str, Any]:
        """The body of ``POST /participants`` registering this actor, with its company prefix
        (the products it may commission: docs/security.md#commissioning-authority)."""
        return {
            "name": self.name,
            "roles": self.roles.names(),
            "gln": self.gln,
            "companyPrefixes": [self.company_prefix],
            **extra,
        }


def event_time(moment: datetime) -> dict[str, str]:
    """``eventTime`` (UTC, ``Z``) and ``eventTimeZoneOffset`` of an aware ``moment``."""
    return {
        "eventTime": moment.isoformat().replace("+00:00", "Z"),
        "eventTimeZoneOffset": "+00:00",
    }


def at_site(actor: Actor, moment: datetime, **fields: Any) -> Event:
    """An event of ``fields`` (``type`` among them) at ``actor``'s site, at ``moment``."""
    return {
        **fields,
        **event_time(moment),
        "readPoint": {"id": actor.sgln},
        "bizLocation": {"id": actor.sgln},
    }


def _lists(
    epcs: Sequence[str] | None, quantities: Quantities | None, ilmd: dict[str, Any] | None
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if epcs is not None:
        fields["epcList"] = list(epcs)
    if quantities is not None:
        fields["quantityList"] = quantities
    if ilmd is not None:
        fields["ilmd"] = ilmd
    return fields


def commission(
    actor: Actor,
    moment: datetime,
    *,
    epcs: Sequence[str] | None = None,
    quantities: Quantities | None = None,
    ilmd: dict[str, Any] | None = None,
) -> Event:
    """ObjectEvent ADD, commissioning: serials (``epcs``, a lot ``ilmd`` with them) or a
    quantity of a class (an API lot)."""
    return at_site(
        actor,
        moment,
        type="ObjectEvent",
        action="ADD",
        bizStep="commissioning",
        disposition="active",
        **_lists(epcs, quantities, ilmd),
    )


def transform(
    actor: Actor,
    moment: datetime,
    *,
    inputs: Quantities,
    output_epcs: Sequence[str] | None = None,
    output_quantities: Quantities | None = None,
    ilmd: dict[str, Any] | None = None,
) -> Event:
    """TransformationEvent, commissioning: ``inputs`` (quantities of API) made into packs
    (``output_epcs``) or a quantity of a class, of the lot ``ilmd`` names."""
    fields: dict[str, Any] = {"inputQuantityList": inputs}
    if output_epcs is not None:
        fields["outputEPCList"] = list(output_epcs)
    if output_quantities is not None:
        fields["outputQuantityList"] = output_quantities
    if ilmd is not None:
        fields["ilmd"] = ilmd
    return at_site(
        actor,
        moment,
        type="TransformationEvent",
        bizStep="commissioning",
        disposition="active",
        **fields,
    )


def aggregate(
    actor: Actor,
    moment: datetime,
    parent: str,
    children: Sequence[str] | None = None,
    *,
    action: str = "ADD",
) -> Event:
    """AggregationEvent: ``children`` packed into ``parent`` (ADD) or unpacked from it (DELETE;
    without children, all of them)."""
    fields: dict[str, Any] = {"parentID": parent}
    if children is not None:
        fields["childEPCs"] = list(children)
    return at_site(
        actor,
        moment,
        type="AggregationEvent",
        action=action,
        bizStep="packing" if action == "ADD" else "unpacking",
        disposition="in_progress",
        **fields,
    )


def observe(
    actor: Actor,
    moment: datetime,
    epcs: Sequence[str],
    *,
    biz_step: str = "inspecting",
    disposition: str | None = None,
) -> Event:
    """ObjectEvent OBSERVE of ``epcs`` at ``actor``'s site (inspecting, storing, picking...)."""
    step: dict[str, Any] = {"bizStep": biz_step}
    if disposition is not None:
        step["disposition"] = disposition
    return at_site(actor, moment, type="ObjectEvent", action="OBSERVE", **step, epcList=list(epcs))


def _delete(
    actor: Actor, moment: datetime, step: str, disposition: str, epcs: Sequence[str]
) -> Event:
    return at_site(
        actor,
        moment,
        type="ObjectEvent",
        action="DELETE",
        bizStep=step,
        disposition=disposition,
        epcList=list(epcs),
    )


def dispense(actor: Actor, moment: datetime, epcs: Sequence[str]) -> Event:
    """ObjectEvent DELETE, dispensing: the packs leave the chain to a patient."""
    return _delete(actor, moment, "dispensing", "dispensed", epcs)


def destroy(actor: Actor, moment: datetime, epcs: Sequence[str]) -> Event:
    """ObjectEvent DELETE, destroying."""
    return _delete(actor, moment, "destroying", "destroyed", epcs)


def decommission(actor: Actor, moment: datetime, epcs: Sequence[str]) -> Event:
    """ObjectEvent DELETE, decommissioning."""
    return _delete(actor, moment, "decommissioning", "inactive", epcs)


def transfer(
    kind: str,
    frm: Actor,
    to: Actor,
    moment: datetime,
    *,
    epcs: Sequence[str] | None = None,
    quantities: Quantities | None = None,
    disposition: str | None = None,
) -> Event:
    """ObjectEvent OBSERVE, ``kind`` ``"shipping"`` (in transit, read at ``frm``) or
    ``"receiving"`` (in progress, read and located at ``to``), from owner ``frm`` to ``to``;
    ``disposition`` instead of those."""
    shipping = kind == "shipping"
    event: Event = {
        "type": "ObjectEvent",
        **event_time(moment),
        "action": "OBSERVE",
        "bizStep": kind,
        "disposition": disposition or ("in_transit" if shipping else "in_progress"),
        "readPoint": {"id": (frm if shipping else to).sgln},
        "sourceList": [{"type": "owning_party", "source": frm.pgln}],
        "destinationList": [{"type": "owning_party", "destination": to.pgln}],
    }
    if epcs:
        event["epcList"] = list(epcs)
    if quantities:
        event["quantityList"] = quantities
    if not shipping:
        event["bizLocation"] = {"id": to.sgln}
    return event


def ship(
    frm: Actor,
    to: Actor,
    moment: datetime,
    *,
    epcs: Sequence[str] | None = None,
    quantities: Quantities | None = None,
) -> Event:
    """``frm`` ships ``epcs`` or ``quantities`` to ``to``."""
    return transfer("shipping", frm, to, moment, epcs=epcs, quantities=quantities)


def receive(
    frm: Actor,
    to: Actor,
    moment: datetime,
    *,
    epcs: Sequence[str] | None = None,
    quantities: Quantities | None = None,
) -> Event:
    """``to`` receives ``epcs`` or ``quantities`` from ``frm``."""
    return transfer("receiving", frm, to, moment, epcs=epcs, quantities=quantities)


def send_back(
    frm: Actor,
    to: Actor,
    moment: datetime,
    *,
    epcs: Sequence[str] | None = None,
    quantities: Quantities | None = None,
) -> Event:
    """``frm`` returns ``epcs`` or ``quantities`` up the chain to ``to``: a shipping with
    disposition ``returned`` (CBV 2.0: sent back), the way a recalled lot goes back."""
    return transfer("shipping", frm, to, moment, epcs=epcs, quantities=quantities,
                    disposition="returned")  # fmt: skip


def receive_back(
    frm: Actor,
    to: Actor,
    moment: datetime,
    *,
    epcs: Sequence[str] | None = None,
    quantities: Quantities | None = None,
) -> Event:
    """``to`` receives the return of ``epcs`` or ``quantities`` from ``frm`` (disposition
    ``returned``)."""
    return transfer("receiving", frm, to, moment, epcs=epcs, quantities=quantities,
                    disposition="returned")  # fmt: skip


def as_document(events: list[Event], *, context: list[Any] | None = None) -> dict[str, Any]:
    """Wrap events in an EPCISDocument, as a participant would send them to the gateway.

    ``@context`` is the EPCIS 2.0 context and ``mpl`` (the project's extension namespace),
    unless ``context`` says otherwise."""
    return {
        "@context": [*EPCIS_CONTEXT, {"mpl": MPL_NAMESPACE}] if context is None else context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": CREATION_DATE,
        "epcisBody": {"eventList": events},
    }
