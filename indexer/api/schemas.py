"""Response models: what each endpoint answers (they make the OpenAPI document at /docs)."""

from __future__ import annotations

from datetime import datetime
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
    name: str | None = Field(
        default=None,
        description="its name as the gateway's participant list gives it (null: not known yet)",
    )
    region: str | None = Field(
        default=None, description="ISO 3166-2 subdivision (or country) code; null: not known"
    )
    roles: list[str]
    gln: str
    active: bool
    registeredBlock: int
    updatedBlock: int
    companyPrefixes: list[str] = Field(
        default_factory=list,
        description="GS1 company prefixes of the products it may commission (on-chain)",
    )


class Recall(Model):
    gtin: str
    lot: str
    recalled: bool
    reasonCode: int | None
    by: str | None
    manufacturer: str | None
    packs: int | None = Field(default=None, description="packs its registrant declared")
    changedBlock: int
    txHash: str
    suspended: bool = Field(
        default=False, description="suspended pending investigation now (docs/suspensions.md)"
    )
    caseNumber: str | None = Field(default=None, description="the current suspension's case")


class Suspension(Model):
    """A suspension pending investigation and how it ended (docs/suspensions.md)."""

    gtin: str
    lot: str
    state: Literal["suspended", "lifted", "escalated"]
    caseNumber: str | None
    reasonCode: int | None
    reason: str | None = Field(description="the code's text; null for a code of no table")
    by: str = Field(description="the regulator or the pharmacovigilance officer")
    block: int
    txHash: str
    closedBy: str | None
    closedBlock: int | None
    closeReasonCode: int | None = Field(description="a lifting's code, or the recall's")
    closeReason: str | None
    closeTx: str | None


class SuspensionPage(Model):
    items: list[Suspension]
    next: str | None


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


class LocationFacts(Model):
    """What a location's master data says now (docs/masterdata.md)."""

    name: str | None
    region: str | None
    city: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    gln: str


class ProductFacts(Model):
    """What a product's master data says now (docs/masterdata.md)."""

    name: str | None
    dosageForm: str | None = None  # noqa: N815
    strength: str | None = None
    packSize: str | None = None  # noqa: N815
    atcCode: str | None = None  # noqa: N815
    maHolder: str | None = None  # noqa: N815


class RegionCount(Model):
    region: str | None = Field(description="null: items at locations no master data places")
    count: int


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
    locations: dict[str, LocationFacts] = Field(
        default_factory=dict,
        description="master data of every location named, where it exists (docs/masterdata.md)",
    )
    products: dict[str, ProductFacts] = Field(
        default_factory=dict, description="master data of every GTIN named, where it exists"
    )


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


class StockGroup(Model):
    holder: str | None
    location: str | None
    gtin: str | None = Field(description="null for cases and pallets")
    lot: str | None
    status: Literal["active", "in_transit"]
    count: int
    region: str | None = Field(
        default=None,
        description="the location's ISO 3166-2 subdivision (or country) by its master data; "
        "null: no master data says",
    )


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
    byRegion: list[RegionCount] = Field(  # noqa: N815
        default_factory=list, description="the items counted by their location's region"
    )
    locations: dict[str, LocationFacts] = Field(
        default_factory=dict, description="master data of the items' locations, where it exists"
    )
    products: dict[str, ProductFacts] = Field(
        default_factory=dict, description="master data of the GTINs, where it exists"
    )


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
    product: ProductFacts | None = Field(
        default=None, description="the GTIN's master data, where it exists (docs/masterdata.md)"
    )
    locations: dict[str, LocationFacts] = Field(
        default_factory=dict,
        description="master data of the locations of the lot's items (all pages), where it exists",
    )
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
    regions: list[str] = Field(
        default_factory=list,
        description="the regions it concerns: of the participants its evidence names as who "
        "anchored, held, acted... (their site's master data, else their registered region) and "
        "of the locations it names (master data)",
    )


class Place(Model):
    name: str | None = None
    region: str | None = None
    city: str | None = None


class AlertParticipant(Participant):
    site: Place | None = Field(
        default=None,
        description="its registered GLN's master data (name, region); null: none",
    )


class AlertPage(Model):
    participants: dict[str, AlertParticipant] = Field(
        default_factory=dict,
        description="every registered participant the page's alerts name (message, evidence), "
        "by address: name and GLN beside each address, and its site's master data",
    )
    locations: dict[str, Place] = Field(
        default_factory=dict,
        description="the locations the page's alerts name (evidence `location`, "
        "`firstLocation`, `actorLocation`) that have master data: name, region, city",
    )
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
    gasUsed: int | None = Field(
        description="the anchoring transaction's gasUsed, from its receipt (null: indexed "
        "before the indexer read receipts)"
    )


class AnchorPage(Model):
    items: list[AnchorRecord]
    next: str | None


class Health(Model):
    status: Literal["ok"]
    checkpoint: int | None = Field(description="last block applied")
    lag: int | None = Field(description="blocks behind the chain head (null: unknown)")


class CheckRequest(Model):
    """A scanned code, as the scanner gave it (control characters such as GS included)."""

    code: str = Field(
        min_length=1,
        max_length=2048,
        description="GS1 element string (raw with GS separators, optional ]d2, or bracketed "
        "AIs), GS1 Digital Link URI, or EPC URN",
    )


class ScannedCode(Model):
    """What the code itself says."""

    form: Literal["element-string", "digital-link", "epc-urn"]
    identifier: str = Field(description="canonical Digital Link URI of the pack")
    gtin: str
    serial: str
    lot: str | None = Field(description="AI 10, if the code carries it")
    expiry: str | None = Field(description="AI 17, if the code carries it (YYYY-MM-DD)")


class CheckParticipant(Model):
    address: str | None = Field(description="null in a public answer")
    name: str | None = Field(
        default=None, description="from the gateway's participant list; null in a public answer"
    )
    gln: str | None = Field(description="null in a public answer")
    roles: list[str]
    active: bool | None
    registered: bool = Field(description="false: the registry does not know the address")


class Dispensing(Model):
    at: str = Field(description="eventTime of the dispensing event")
    by: str | None = Field(description="the participant that anchored it (null in a public answer)")
    name: str | None = Field(default=None, description="its name (null in a public answer)")
    gln: str | None = Field(description="null in a public answer")
    kind: str | None = Field(description="pharmacy, hospital (else the participant's first role)")
    roles: list[str]


class CheckRecall(Model):
    recalled: bool
    reasonCode: int | None
    reason: str | None = Field(
        default=None,
        description="the code's text (a recall's, or a release's when not recalled; "
        "docs/recalls.md), null for a code of neither table",
    )
    by: str | None
    manufacturer: str | None = Field(description="who registered (released) the lot")
    changedBlock: int
    txHash: str


class Mismatch(Model):
    field: Literal["lot", "expiry"]
    scanned: str | None
    indexed: str | None


class CheckWarning(Model):
    code: str = Field(
        description="unknown, mismatch, decommissioned, destroyed, unauthorised-commissioning, "
        "recalled, expired, dispensed"
    )
    message: str


class CheckEvent(Model):
    """The event that made the pack's current state, and the anchor that proves it."""

    eventID: str
    type: str
    bizStep: str | None
    eventTime: str
    submitter: str | None = Field(description="null in a public answer")
    anchor: Anchor


class CheckSuspension(Model):
    caseNumber: str | None = Field(description="the investigation's case number, on chain")
    reasonCode: int | None
    reason: str | None = Field(
        default=None, description="the code's text (docs/suspensions.md), null for another code"
    )
    by: str | None = Field(description="who suspended it (null in a public answer)")
    block: int | None = Field(description="the block of the Suspended log")
    txHash: str | None


class Check(Model):
    verdict: Literal[
        "ok", "unknown", "suspect", "recalled", "suspended", "expired", "dispensed"
    ] = Field(
        description="the first that applies of unknown, suspect, recalled, suspended, "
        "expired, dispensed, ok"
    )
    known: bool
    code: ScannedCode
    identifier: str
    gtin: str
    lot: str | None
    expiry: str | None
    expirySource: Literal["index", "code"] | None
    expired: bool | None = Field(description="null when no expiry is known")
    today: str = Field(description="the date expiry was judged against")
    released: bool | None = Field(
        description="the lot's manufacturer registered it in the recall registry"
    )
    recalled: bool | None
    recall: CheckRecall | None
    suspended: bool | None = Field(
        default=None,
        description="the lot is suspended pending investigation (docs/suspensions.md); false "
        "while it is recalled, which says more",
    )
    suspension: CheckSuspension | None = None
    dispensed: Dispensing | None
    status: str | None
    since: str | None
    holder: CheckParticipant | None
    location: str | None
    inTransitTo: str | None
    mismatches: list[Mismatch]
    warnings: list[CheckWarning]
    lastEvent: CheckEvent | None
    product: ProductFacts | None = Field(
        default=None, description="the GTIN's master data, where it exists (docs/masterdata.md)"
    )
    place: LocationFacts | None = Field(
        default=None,
        description="the pack's location's master data, where it exists (null: public detail)",
    )
    detail: Literal["full", "public"] = Field(
        description="full for a reader key; public (no participant's identity, no site) "
        "without a key"
    )


class ReceiptDocument(Model):
    """A receipt (version 1, event embedded): verify it with `provenance verify`."""

    version: Literal[1]
    event_hash: str
    salt: str
    leaf: str
    proof: list[str] = Field(description="sibling hashes from the leaf up to the root")
    root: str
    chain_id: int
    contract: str = Field(description="the anchor registry")
    tx_hash: str
    block_number: int
    anchored_by: str = Field(description="the participant that anchored the batch")
    event: dict[str, Any] = Field(description="the event, EPCIS 2.0 JSON as anchored")


class OriginEntry(Model):
    role: Literal["item", "packing", "transformation", "api-lot"]
    eventID: str
    lot: str | None = Field(default=None, description="api-lot: the input lot (class)")
    maker: str | None = Field(default=None, description="api-lot: the address of its maker")
    receipt: ReceiptDocument


class OriginBundle(Model):
    """An origin bundle (version 1, docs/origin.md): `provenance verify` checks it."""

    type: Literal["origin-bundle"]
    version: Literal[1]
    created: str
    subject: dict[str, Any]
    producedBy: str | None
    apiPerPack: str | None
    massBalance: dict[str, Any] = Field(description="as computed; a verifier recomputes it")
    receipts: list[OriginEntry]
    participants: dict[str, Participant] = Field(
        default_factory=dict,
        description="the makers and anchoring participants, by address (name, GLN; for people, "
        "not checked by `provenance verify`)",
    )


class ReaderKeyPublic(Model):
    """A reader key as listed: never its secret (which the indexer does not keep)."""

    id: int
    label: str
    prefix: str = Field(description="the public part of the token, `ik_<prefix>_...`")
    name: str = Field(description="who holds it")
    role: Literal["regulator", "auditor", "inspector", "participant", "pharmacovigilance"]
    region: str | None = Field(description="an inspector's region (ISO 3166-2); else null")
    participant: str | None = Field(
        default=None, description="a participant key's participant address; else null"
    )
    status: Literal["live", "expired", "revoked"]
    createdAt: datetime
    lastUsedAt: datetime | None = Field(
        description="at least this recent (written at most once a minute)"
    )
    expiresAt: datetime | None
    revokedAt: datetime | None


class ReaderKeyIssued(ReaderKeyPublic):
    apiKey: str = Field(description="the token; shown once, store it safely")


class ReaderKeyRotated(ReaderKeyIssued):
    previous: ReaderKeyPublic = Field(
        description="the key rotated, with its new expiry (the end of the grace period)"
    )


class ReaderKeyCreate(Model):
    """``POST /keys``."""

    label: str = Field(default="", max_length=100, examples=["ministry dashboard"])
    role: Literal["regulator", "auditor", "inspector", "participant", "pharmacovigilance"]
    region: str | None = Field(
        default=None, description="an inspector's region (ISO 3166-2, e.g. KG-C); others: none"
    )
    participant: str | None = Field(
        default=None,
        description="a participant key's participant (its 0x address): the key reads the EPCIS "
        "events it captured and those on the items it has held; others: none",
    )
    name: str | None = Field(
        default=None, max_length=200, description="who holds it; default: the label"
    )
    expiresAt: datetime | None = Field(
        default=None, description="when the key stops working (with a time zone); none: never"
    )


class ReaderKeyRotate(Model):
    """``POST /keys/{id}/rotate``."""

    graceSeconds: int = Field(
        default=86_400,
        ge=0,
        le=30 * 86_400,
        description="how long the old key keeps working (default 24 h; 0: it stops now)",
    )
    expiresAt: datetime | None = Field(
        default=None, description="the new key's expiry; none: never"
    )


class KeyAuditEntry(Model):
    id: int
    at: datetime
    actor: str = Field(description="the key that did it (`key <id> (<name>, <role>)`) or `system`")
    action: str = Field(description="`issue`, `rotate` or `revoke`")
    keyId: int | None
    name: str | None = Field(description="who holds the key")
    detail: str | None
