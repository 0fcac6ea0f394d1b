"""Response bodies (``...Public``) and request bodies (``...Create``) of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class CaptureAccepted(BaseModel):
    captureID: str  # noqa: N815 - the EPCIS 2.0 REST binding's spelling
    eventIDs: list[str]  # noqa: N815
    stored: int = Field(description="events new to the gateway")
    duplicates: int = Field(description="events it already had (same event hash)")


class CapturePublic(BaseModel):
    captureID: str  # noqa: N815
    participant: str
    receivedAt: datetime  # noqa: N815
    status: Literal["accepted", "anchored", "rejected"]
    eventIDs: list[str]  # noqa: N815
    error: dict[str, Any] | None = None


class BatchEventPublic(BaseModel):
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
    events: list[BatchEventPublic]


class ParticipantCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1, examples=[["manufacturer"]])
    gln: str = Field(pattern=r"^\d{13}$")
    ruleSet: Literal["pharma", "epcis"] = "pharma"  # noqa: N815


class ParticipantPublic(BaseModel):
    address: str
    name: str
    roles: list[str]
    gln: str
    status: str
    ruleSet: str  # noqa: N815


class ParticipantCreated(ParticipantPublic):
    apiKey: str = Field(description="shown once; store it safely")  # noqa: N815
