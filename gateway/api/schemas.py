"""Response bodies (``...Public``) and request bodies (``...Create``) of the HTTP API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class CaptureAccepted(BaseModel):
    captureID: str  # noqa: N815 - the EPCIS 2.0 REST binding's spelling
    eventIDs: list[str]  # noqa: N815
    stored: int = Field(description="events new to the gateway")
    duplicates: int = Field(description="events it already had (same event hash)")
    declarationIDs: list[str] = Field(  # noqa: N815
        default_factory=list,
        description="the error declarations the document carries, in document order",
    )
    declarationsStored: int = Field(  # noqa: N815
        0, description="error declarations new to the gateway (the others it already had)"
    )
    masterdataIDs: list[str] = Field(  # noqa: N815
        default_factory=list,
        description="the master data records of the document's header (docs/masterdata.md)",
    )
    masterdataStored: int = Field(  # noqa: N815
        0, description="master data records new to the gateway (the others it already had)"
    )


class MasterDataImported(BaseModel):
    """What ``POST /masterdata`` stored: every record of the file, each once."""

    masterdataIDs: list[str] = Field(  # noqa: N815
        description="the records' ids (ni:///sha-256;...?ver=CBV2.0&masterdata), in file order"
    )
    stored: int = Field(description="records new to the gateway")
    duplicates: int = Field(description="records it already had")


class CapturePublic(BaseModel):
    """A capture job: the REST binding's CaptureJob fields, and the gateway's own."""

    captureID: str  # noqa: N815
    createdAt: datetime = Field(description="when the document was received")  # noqa: N815
    finishedAt: datetime = Field(  # noqa: N815
        description="when its capture finished: the same moment (capture is synchronous)"
    )
    running: bool = Field(description="always false: the answer to POST /capture came after it")
    success: bool = Field(description="false if the document was rejected")
    captureErrorBehaviour: Literal["rollback", "proceed"] = "rollback"  # noqa: N815
    errors: list[dict[str, Any]] = Field(
        description="RFC 9457 problems (with the rule and pointer) if success is false"
    )
    participant: str
    receivedAt: datetime  # noqa: N815
    status: Literal["accepted", "anchored", "rejected"] = Field(
        description="accepted, anchored (every event anchored), or rejected"
    )
    eventIDs: list[str]  # noqa: N815
    error: dict[str, Any] | None = None


class BatchEventPublic(BaseModel):
    """One leaf of a batch: an event, an error declaration or a master data record (``kind``;
    then ``eventID`` is its id, ``eventHash`` its digest and ``event`` the stored document)."""

    kind: Literal["event", "errorDeclaration", "masterdata"] = "event"
    eventID: str  # noqa: N815
    eventHash: str  # noqa: N815
    salt: str
    event: dict[str, Any]


class BatchPublic(BaseModel):
    root: str
    participant: str
    state: str
    eventCount: int  # noqa: N815
    txHash: str | None  # noqa: N815
    blockNumber: int | None  # noqa: N815
    blockHash: str | None = None  # noqa: N815
    events: list[BatchEventPublic]


class PastAnchorPublic(BaseModel):
    txHash: str | None  # noqa: N815
    blockNumber: int | None  # noqa: N815
    blockHash: str | None  # noqa: N815
    outcome: Literal["vanished", "moved"]
    anchoredAt: datetime | None  # noqa: N815
    endedAt: datetime  # noqa: N815


class AnchorPublic(BaseModel):
    """A batch's current anchor, as the chain had it when the gateway last checked."""

    status: Literal["current"] = "current"
    txHash: str  # noqa: N815
    blockNumber: int  # noqa: N815
    blockHash: str | None  # noqa: N815
    root: str
    participant: str
    batch: str = Field(description="where the batch's events and salts are: /batches/{root}")
    anchoredAt: datetime | None  # noqa: N815
    previous: list[PastAnchorPublic] = Field(
        description="the anchors the batch had before reorganisations took them away or moved "
        "them, oldest first"
    )


class ParticipantCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1, examples=[["manufacturer"]])
    gln: str = Field(
        examples=["4700000100002"],
        description="13 digits, not all zeros, check digit verified (`gs1.gln`, `gs1.checkDigit`)",
    )
    ruleSet: Literal["pharma", "epcis"] = "pharma"  # noqa: N815
    companyPrefixes: list[str] = Field(  # noqa: N815
        default_factory=list,
        examples=[["4700123"]],
        description="GS1 company prefixes (4 to 12 digits) of the products it may commission",
    )
    region: str | None = Field(
        default=None,
        max_length=16,
        examples=["KG-GB"],
        description="ISO 3166-2 subdivision code (or an ISO 3166-1 country code), any case",
    )


class ParticipantPublic(BaseModel):
    address: str
    name: str
    roles: list[str]
    gln: str
    status: str
    ruleSet: str  # noqa: N815
    companyPrefixes: list[str] = Field(default_factory=list)  # noqa: N815
    region: str | None = Field(default=None, description="ISO 3166-2 code, upper-case")
    updatedAt: datetime | None = Field(  # noqa: N815
        default=None,
        description="last change of the participant (registration, status, prefixes, region)",
    )


class RegionSet(BaseModel):
    """``PUT /participants/{address}/region``: the participant's region (null clears it)."""

    region: str | None = Field(max_length=16, examples=["KG-GB"])


class CompanyPrefixesSet(BaseModel):
    """``PUT /participants/{address}/prefixes``: the participant's company prefixes, replaced."""

    companyPrefixes: list[str] = Field(examples=[["4700123", "0614141"]])  # noqa: N815


class ParticipantCreated(ParticipantPublic):
    apiKey: str = Field(description="shown once; store it safely")  # noqa: N815


class ParticipantRegistration(ParticipantCreate):
    """``POST /participants``: a participant, optionally with a webhook for its notifications."""

    webhookUrl: str | None = Field(  # noqa: N815
        default=None, max_length=2048, description="where its notifications are POSTed"
    )


class ParticipantRegistered(ParticipantCreated):
    webhookSecret: str | None = Field(  # noqa: N815
        default=None, description="HMAC key of its webhook deliveries; shown once"
    )


class RecallCreate(BaseModel):
    gtin: str = Field(
        examples=["04701230123450"],
        description="GTIN-8, -12, -13 or -14, check digit verified (medledger/epcis/gs1.py: "
        "`gs1.gtin`, `gs1.checkDigit`); kept as 14 digits",
    )
    lot: str = Field(
        examples=["B2026-117"],
        description="GS1 AI 10: 1 to 20 characters of GS1 character set 82 (`gs1.lot`)",
    )
    reason: str = Field(min_length=1, max_length=2000)
    reasonCode: int | None = Field(  # noqa: N815
        default=None, ge=0, le=65535, description="on-chain reason code (0 when not given)"
    )


class SuspensionCreate(RecallCreate):
    caseNumber: str = Field(  # noqa: N815
        min_length=1,
        max_length=32,
        examples=["PV-2026/0042"],
        description="the investigation's case number, on chain: 1 to 32 characters of GS1 "
        "character set 82 (`suspension.case-number`)",
    )
    stopsShipping: bool | None = Field(  # noqa: N815
        default=None,
        description="refuse shipping the lot too, not only dispensing (default: the "
        "gateway's PROVENANCE_GATEWAY_SUSPENSION_STOPS_SHIPPING)",
    )


class EscalationCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="the recall's reason")
    reasonCode: int | None = Field(  # noqa: N815
        default=None, ge=0, le=65535, description="the recall's on-chain reason code"
    )


class SuspensionPublic(BaseModel):
    id: int
    gtin: str
    lot: str
    state: Literal["suspended", "lifted", "escalated"]
    caseNumber: str  # noqa: N815
    reason: str
    reasonCode: int  # noqa: N815
    stopsShipping: bool  # noqa: N815
    suspendedBy: str  # noqa: N815
    suspendedAt: datetime  # noqa: N815
    suspendTx: str | None  # noqa: N815
    closedBy: str | None = None  # noqa: N815
    closedAt: datetime | None = None  # noqa: N815
    closeReason: str | None = None  # noqa: N815
    closeReasonCode: int | None = None  # noqa: N815
    closeTx: str | None = None  # noqa: N815
    recallId: int | None = Field(  # noqa: N815
        default=None, description="the recall it was escalated to"
    )
    notified: int | None = Field(
        default=None, description="participants notified by this request (POST answers only)"
    )


class ReleaseCreate(BaseModel):
    reason: str = Field(default="", max_length=2000)
    reasonCode: int | None = Field(default=None, ge=0, le=65535)  # noqa: N815


class RecallPublic(BaseModel):
    id: int
    gtin: str
    lot: str
    state: Literal["recalled", "released"]
    reason: str
    reasonCode: int  # noqa: N815
    recalledBy: str  # noqa: N815
    recalledAt: datetime  # noqa: N815
    recallTx: str | None  # noqa: N815
    releasedBy: str | None = None  # noqa: N815
    releasedAt: datetime | None = None  # noqa: N815
    releaseReason: str | None = None  # noqa: N815
    releaseReasonCode: int | None = None  # noqa: N815
    releaseTx: str | None = None  # noqa: N815
    notified: int | None = Field(
        default=None, description="participants notified by this request (POST answers only)"
    )


class PackHolding(BaseModel):
    held: int = Field(description="packs of the lot in its custody")
    outbound: int = Field(description="packs it shipped that are not received yet")
    inbound: int = Field(description="packs shipped to it, not received yet")


class QuantityHolding(BaseModel):
    uom: str
    held: str
    outbound: str
    inbound: str


class Holding(BaseModel):
    packs: PackHolding
    quantities: list[QuantityHolding]


class NotificationPublic(BaseModel):
    id: int
    kind: Literal["recall", "release", "suspension", "lift"]
    recallId: int | None  # noqa: N815
    suspensionId: int | None = Field(  # noqa: N815
        default=None,
        description="the suspension (kinds suspension and lift; a recall it was escalated to)",
    )
    gtin: str
    lot: str
    reason: str
    reasonCode: int  # noqa: N815
    holding: Holding
    participant: str
    createdAt: datetime  # noqa: N815


class DeliveryPublic(BaseModel):
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    lastAttemptAt: datetime | None  # noqa: N815
    lastStatus: int | None = Field(description="HTTP status of the last attempt")  # noqa: N815
    lastError: str | None  # noqa: N815
    deliveredAt: datetime | None  # noqa: N815


class RecallNotificationPublic(NotificationPublic):
    delivery: DeliveryPublic | None = Field(
        description="its webhook delivery; null: the participant has no webhook and reads its "
        "feed (GET /notifications)"
    )


class WebhookSet(BaseModel):
    url: str = Field(min_length=1, max_length=2048, examples=["https://erp.example/recalls"])


class WebhookPublic(BaseModel):
    url: str
    secret: str = Field(description="HMAC-SHA256 key of the deliveries; shown once")


class LotCreate(BaseModel):
    """``POST /lots``: declare a lot's pack count (and release it on-chain)."""

    gtin: str = Field(
        examples=["04700123123452"],
        description="GTIN-8, -12, -13 or -14, check digit verified (medledger/epcis/gs1.py: "
        "`gs1.gtin`, `gs1.checkDigit`); kept as 14 digits",
    )
    lot: str = Field(
        examples=["B2026-117"],
        description="GS1 AI 10: 1 to 20 characters of GS1 character set 82 (`gs1.lot`)",
    )
    expiry: date = Field(examples=["2028-10-31"])
    packs: int = Field(ge=1, le=10_000_000, description="packs in the lot: the codes' ceiling")


class LotPublic(BaseModel):
    gtin: str
    lot: str
    expiry: date
    packs: int
    issued: int
    remaining: int
    participant: str = Field(description="who declared it; only it issues its codes")
    releasedBy: str = Field(description="its registrant in the recall registry")  # noqa: N815
    registerTx: str | None = Field(  # noqa: N815
        description="the registerBatch transaction; null if it was registered before"
    )
    declaredAt: datetime  # noqa: N815


class CodesCreate(BaseModel):
    """``POST /codes``: issue and commission ``count`` codes of a declared lot."""

    gtin: str = Field(
        examples=["04700123123452"],
        description="GTIN-8, -12, -13 or -14, check digit verified (medledger/epcis/gs1.py: "
        "`gs1.gtin`, `gs1.checkDigit`); kept as 14 digits",
    )
    lot: str = Field(
        examples=["B2026-117"],
        description="GS1 AI 10: 1 to 20 characters of GS1 character set 82 (`gs1.lot`)",
    )
    expiry: date | None = Field(default=None, description="if given, must be the declared one")
    count: int = Field(ge=1, le=10_000)
    format: Literal["png", "svg"] = Field(default="png", description="of the `image` links")


class CodePublic(BaseModel):
    serial: str
    gtin: str
    lot: str
    expiry: date
    identifier: str = Field(description="canonical GS1 Digital Link URI of the pack")
    uri: str = Field(description="what its QR code carries: the identifier with ?10=lot&17=YYMMDD")
    text: str = Field(description="human-readable interpretation for the label")
    eventID: str = Field(description="the commissioning event")  # noqa: N815
    issuedAt: datetime  # noqa: N815
    image: str = Field(description="path of its QR code image at the gateway")


class ApiKeyPublic(BaseModel):
    """An API key as listed: never its secret (which the gateway does not keep)."""

    id: int
    label: str
    prefix: str = Field(description="the public part of the token, `pk_<prefix>_...`")
    participant: str
    scope: Literal["participant", "batch-reader"] = Field(
        description="`participant`: acts as its participant; `batch-reader`: the regulator's "
        "read-only key for the indexer (GET /batches/{root}, GET /participants)"
    )
    status: Literal["live", "expired", "revoked"]
    createdAt: datetime  # noqa: N815
    lastUsedAt: datetime | None = Field(  # noqa: N815
        description="at least this recent (written at most once a minute)"
    )
    expiresAt: datetime | None  # noqa: N815
    revokedAt: datetime | None  # noqa: N815


class ApiKeyIssued(ApiKeyPublic):
    apiKey: str = Field(description="the token; shown once, store it safely")  # noqa: N815


class ApiKeyRotated(ApiKeyIssued):
    previous: ApiKeyPublic = Field(
        description="the key rotated, with its new expiry (the end of the grace period)"
    )


class ApiKeyCreate(BaseModel):
    """``POST /participants/{address}/keys``."""

    label: str = Field(default="", max_length=100, examples=["ERP integration"])
    expiresAt: datetime | None = Field(  # noqa: N815
        default=None, description="when the key stops working (with a time zone); none: never"
    )
    scope: Literal["participant", "batch-reader"] = Field(
        default="participant",
        description="`batch-reader` only for a regulator's own keys, by the regulator",
    )


class ApiKeyRotate(BaseModel):
    """``POST /participants/{address}/keys/{id}/rotate``."""

    graceSeconds: int = Field(  # noqa: N815
        default=86_400,
        ge=0,
        le=30 * 86_400,
        description="how long the old key keeps working (default 24 h; 0: it stops now)",
    )
    expiresAt: datetime | None = Field(  # noqa: N815
        default=None, description="the new key's expiry; none: never"
    )


class KeyAuditPublic(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="who did it: a participant's address, or `system`")
    action: str = Field(description="`issue`, `rotate` or `revoke`")
    keyId: int | None  # noqa: N815
    participant: str | None
    detail: str | None
