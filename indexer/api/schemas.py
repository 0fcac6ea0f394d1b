"""Response models: what each endpoint answers (they make the OpenAPI document at /docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class Anchor(Model):
    """The ``Anchored`` log that put an event's batch on chain."""

    root: str = Field(description="Merkle root of the batch (0x, 32 bytes)")
    txHash: str
    blockNumber: int
    blockTimestamp: int


class Step(Model):
    """One event, as the index holds its facts, and its anchor."""

    eventID: str = Field(description="ni:///sha-256;<hex>?ver=CBV2.0")
    type: str
    action: str | None
    bizStep: str | None
    disposition: str | None
    eventTime: str
    submitter: str = Field(description="the participant that anchored it")
    readPoint: str | None
    bizLocation: str | None
    source: str | None = Field(description="owning party it came from (shipping, receiving)")
    destination: str | None = Field(description="owning party it went to")
    seq: int = Field(description="chain order: block * 10^9 + log index * 10^5 + position")
    anchor: Anchor


class Participant(Model):
    address: str
    roles: list[str]
    gln: str
    active: bool
    registeredBlock: int
    updatedBlock: int


class Recall(Model):
    gtin: str
    lot: str
    recalled: bool
    reasonCode: int | None
    by: str | None
    manufacturer: str | None
    changedBlock: int
    txHash: str


class Version(Model):
    """An item's state from one event to the next (``event``: the event that made it)."""

    identifier: str
    status: str
    holder: str | None
    location: str | None
    parent: str | None
    inTransitTo: str | None
    gtin: str | None
    lot: str | None
    eventTime: str
    event: Step | None


class TraceInput(Model):
    """What a transformation consumed: an API lot (quantity, uom) or an instance."""

    identifier: str
    role: Literal["input", "input_quantity"]
    gtin: str | None
    lot: str | None
    expiry: str | None
    quantity: str | None = Field(description='decimal as text, e.g. "12.5"')
    uom: str | None
    origin: Step | None = Field(description="the event that commissioned (or produced) it")
    maker: str | None = Field(description="who anchored that event")


class Transformation(Step):
    inputs: list[TraceInput]


class BatchTrace(Model):
    """A finished lot, upstream: its transformation events and what they consumed."""

    classId: str
    gtin: str
    lot: str
    expiry: str | None
    commissionedBy: str | None
    recall: Recall | None
    transformations: list[Transformation]


class HolderStatusCount(Model):
    holder: str | None
    status: str
    count: int


class Trace(Model):
    identifier: str
    kind: Literal["pack", "logistic-unit", "lot"]
    current: Version | None
    batches: list[BatchTrace] = Field(description="upstream: the finished lots involved")
    history: list[Version] = Field(description="downstream: every state version, in order")
    contents: list[Version] = Field(description="a case or pallet: what is or was inside, now")
    summary: list[HolderStatusCount] | None = Field(description="a lot: its items now")
    participants: dict[str, Participant] = Field(description="every address named, by address")


class EpcState(Model):
    identifier: str
    status: str
    holder: str | None
    location: str | None
    parent: str | None
    inTransitTo: str | None
    gtin: str | None
    lot: str | None
    expiry: str | None
    recalled: bool
    recall: Recall | None
    childCount: int
    since: str
    lastEvent: Step | None
    participants: dict[str, Participant]


class EventsDocument(Model):
    """An ``EPCISQueryDocument``: the events as anchored, in chain order, one page of them."""

    context: list[str] = Field(alias="@context")
    type: Literal["EPCISQueryDocument"]
    schemaVersion: str
    creationDate: str
    epcisBody: dict[str, Any] = Field(
        description="queryResults.resultsBody.eventList: EPCIS 2.0 JSON events"
    )
    anchors: dict[str, Anchor] = Field(description="each listed event's anchor, by eventID")
    next: str | None = Field(description="cursor of the next page; null on the last")


class StockGroup(Model):
    holder: str | None
    location: str | None
    gtin: str | None = Field(description="null for cases and pallets")
    lot: str | None
    status: Literal["active", "in_transit"]
    count: int


class Holding(Model):
    classId: str
    gtin: str | None
    lot: str | None
    holder: str
    status: Literal["active", "in_transit"]
    inTransitTo: str | None
    quantity: str
    uom: str


class Stock(Model):
    items: list[StockGroup]
    holdings: list[Holding] = Field(description="class-level quantities (e.g. kg of API lots)")
    participants: dict[str, Participant]


class ScopeItem(Model):
    identifier: str
    status: str
    holder: str | None
    location: str | None
    parent: str | None
    inTransitTo: str | None
    eventTime: str


class RecallScope(Model):
    gtin: str
    lot: str
    expiry: str | None
    commissionedBy: str
    recall: Recall | None
    total: int
    summary: list[HolderStatusCount]
    participants: dict[str, Participant]
    items: list[ScopeItem]
    next: str | None


class RecallPage(Model):
    items: list[Recall]
    next: str | None


class Alert(Model):
    key: str
    kind: str
    severity: str
    blockNumber: int
    subject: str | None
    message: str
    evidence: dict[str, Any]


class AlertPage(Model):
    items: list[Alert]
    next: str | None


class ParticipantPage(Model):
    items: list[Participant]
    next: str | None


class AnchorRecord(Model):
    root: str
    submitter: str
    relayer: str
    eventCount: int
    metadataHash: str
    txHash: str
    blockNumber: int
    logIndex: int
    blockTimestamp: int
    status: Literal["indexed", "rejected", "unavailable"]


class AnchorPage(Model):
    items: list[AnchorRecord]
    next: str | None


class Health(Model):
    status: Literal["ok"]
    checkpoint: int | None = Field(description="last block applied")
    lag: int | None = Field(description="blocks behind the chain head (null: unknown)")
