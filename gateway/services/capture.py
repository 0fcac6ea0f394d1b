"""Capture: EPCIS documents in through the intake (rules, storage), a rejection recorded with
its reasons, and a capture's status; refused with 503 while the anchoring backlog is full."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gateway.intake import Accepted, Intake
from gateway.masterdata_intake import declared_entries, file_records
from gateway.services.participants import may_read
from gateway.settings import GatewaySettings
from gateway.store.batches import unanchored_event_count
from gateway.store.capture import CaptureInfo, get_capture, list_captures, record_rejection
from gateway.store.masterdata import Imported, import_records
from gateway.store.participants import ParticipantRecord
from medledger.epcis.documents import event_count
from medledger.errors import (
    BackPressureError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from servicekit.sql.helpers import utcnow


class CaptureService:
    """Documents in; ``wake`` tells the batcher there is something to anchor."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        write_sessions: sessionmaker[Session],
        intake: Intake,
        settings: GatewaySettings,
        wake: Callable[[], None],
    ) -> None:
        self.sessions = sessions
        self.write_sessions = write_sessions
        self.intake = intake
        self.settings = settings
        self.wake = wake

    def capture(
        self, participant: ParticipantRecord, document: Any, *, proceed: bool = False
    ) -> Accepted:
        """``proceed``: store the events that pass and list the others in the capture job
        (``GS1-Capture-Error-Behaviour: proceed``); otherwise all or nothing."""
        with self.sessions() as session:
            check_backlog(session, self.settings)
        # The write transaction begins at the intake's first statement, after the document is
        # checked against the schema, so the SQLite write lock is not held for that.
        with self.write_sessions() as session:
            try:
                if proceed:
                    accepted = self.intake.capture_proceeding(session, participant, document)
                else:
                    accepted = self.intake.capture(session, participant, document)
            except ValidationError as exc:
                count = event_count(document)
                capture_id = record_rejection(
                    session,
                    participant.address,
                    {
                        "rule": exc.rule,
                        "pointer": exc.pointer,
                        "detail": str(exc),
                        **({"captureErrorBehaviour": "proceed"} if proceed else {}),
                    },
                    event_count=count,
                )
                exc.capture_id = str(capture_id)  # type: ignore[attr-defined]
                raise
        self.wake()
        return accepted

    def import_masterdata(
        self, participant: ParticipantRecord, body: bytes, media: str
    ) -> Imported:
        """Master data from a file (``provenance masterdata import``): all its records stored
        (each once) or, if any is refused, none (docs/masterdata.md)."""
        if not participant.active:
            raise PermissionDeniedError(f"participant {participant.address} is suspended")
        with self.sessions() as session:
            check_backlog(session, self.settings)
        records = file_records(body, media, utcnow())
        with self.write_sessions() as session:
            entries = declared_entries(participant, records, session)
            imported = import_records(session, participant.address, entries)
        self.wake()
        return imported

    def status(self, reader: ParticipantRecord, capture_id: str) -> CaptureInfo:
        with self.sessions() as session:
            try:
                info = get_capture(session, capture_id)
            except ValueError:
                info = None
        if info is None or not may_read(reader, info.participant):
            raise NotFoundError(f"no capture {capture_id}")
        return info

    def jobs(self, reader: ParticipantRecord, page: CapturePage) -> list[CaptureInfo]:
        """The reader's own captures (the binding's capture jobs), in the order received."""
        with self.sessions() as session:
            return list_captures(session, reader.address, after=page.after, limit=page.size)


@dataclass(frozen=True)
class CapturePage:
    """A page of ``GET /capture``: ``size`` jobs after ``after`` (the binding's ``perPage`` and
    ``nextPageToken``; the token is the last job's receipt time and id, opaque to clients)."""

    size: int
    after: tuple[datetime, uuid.UUID] | None = None

    @staticmethod
    def parse(per_page: int, token: str | None) -> CapturePage:
        if token is None:
            return CapturePage(per_page)
        try:
            text = base64.urlsafe_b64decode(token.encode("ascii") + b"==").decode("utf-8")
            at, cid = text.split("|")
            moment = datetime.fromisoformat(at)
            if moment.tzinfo is None:
                raise ValueError("naive")
            return CapturePage(per_page, (moment, uuid.UUID(cid)))
        except (ValueError, UnicodeError):
            raise ValidationError(
                "nextPageToken is not one this gateway gave (take it from the Link header)",
                rule="query.nextPageToken",
                pointer="nextPageToken",
            ) from None

    @staticmethod
    def token_after(job: CaptureInfo) -> str:
        text = f"{job.received_at.isoformat()}|{job.id}"
        return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def check_backlog(session: Session, settings: GatewaySettings) -> None:
    """503 (BackPressureError) while the events waiting to be anchored reach the limit."""
    backlog = unanchored_event_count(session)
    if backlog >= settings.max_backlog_events:
        raise BackPressureError(
            f"{backlog} events are waiting to be anchored (limit "
            f"{settings.max_backlog_events}); the chain may be unreachable",
            retry_after_seconds=settings.retry_after_seconds,
        )
