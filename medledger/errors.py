"""The project's one exception tree.

Every error the library raises on purpose derives from :class:`ProvenanceError`. Domain branches
carry the evidence a user needs to act (expected and actual values, the transaction, the rule).
Where a builtin fits, the error inherits it too, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import reprlib
from typing import Any

#: Characters of a value an error message echoes (:func:`echo`).
ECHO_LIMIT = 200
#: Characters a :class:`ValidationError` keeps of its message, and of its pointer: a safety net
#: under :func:`echo`, so that no error answered or stored grows with the input.
MESSAGE_LIMIT = 1000
POINTER_LIMIT = 300

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = _REPR.maxother = ECHO_LIMIT


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters.

    A rejected value can be megabytes long (issue 14, finding 8): an error echoes at most its
    first ``limit`` characters and says how long it was. Never builds the whole ``repr``."""
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value)
        return f"{value[:limit]!r}... ({len(value)} characters)"
    text = _REPR.repr(value)
    return text if len(text) <= limit + 20 else text[:limit] + "..."


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    tail = f"... ({len(text)} characters)"
    return text[: max(0, limit - len(tail))] + tail


class ProvenanceError(Exception):
    """Root of every error raised by chain/, gateway/ and indexer/."""


# --- Merkle trees, proofs and receipts -------------------------------------------------------


class MerkleError(ProvenanceError, ValueError):
    """A Merkle tree cannot be built or a proof is malformed."""


class EmptyTreeError(MerkleError):
    """A Merkle tree needs at least one leaf."""


class VerificationError(ProvenanceError):
    """Something claimed to be proven is not."""


class ReceiptFormatError(ProvenanceError, ValueError):
    """A receipt cannot be read: not JSON, a field missing, a value of the wrong shape."""


# --- Chain access ----------------------------------------------------------------------------


class ChainError(ProvenanceError):
    """The chain could not be reached or answered something unexpected."""


class ChainUnavailableError(ChainError, ConnectionError):
    """The JSON-RPC node does not answer."""


class ArtifactError(ChainError):
    """A compiled contract artifact is missing or unreadable."""


class KeystoreError(ProvenanceError):
    """A keystore file is missing, unreadable, or its password is wrong or absent."""


class TransactionError(ChainError):
    """A transaction was not mined successfully."""

    def __init__(self, message: str, *, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash


class SignerError(TransactionError):
    """The signer did not sign: a remote signer (Web3Signer) that does not hold the key, answers
    an error or an HTTP failure, does not answer in time, or returns a transaction other than the
    one asked for. Nothing was sent, so the transaction can simply be tried again."""


class ContractRevertError(TransactionError):
    """A call or transaction reverted. ``error_name`` is the Solidity custom error, if decoded."""

    def __init__(
        self,
        message: str,
        *,
        error_name: str | None = None,
        error_args: dict[str, Any] | None = None,
        tx_hash: str | None = None,
    ) -> None:
        super().__init__(message, tx_hash=tx_hash)
        self.error_name = error_name
        self.error_args = error_args or {}


# --- Input -----------------------------------------------------------------------------------


class ValidationError(ProvenanceError, ValueError):
    """Input does not satisfy a schema or a rule. ``rule`` names the rule that failed."""

    def __init__(self, message: str, *, rule: str | None = None, pointer: str | None = None):
        super().__init__(cut(message, MESSAGE_LIMIT))
        self.rule = rule
        self.pointer = None if pointer is None else cut(pointer, POINTER_LIMIT)


class UnsupportedMediaTypeError(ValidationError):
    """The body is in a format the endpoint does not take (HTTP 415)."""


class QueryParameterError(ValidationError):
    """A query parameter is unknown, malformed or not supported (HTTP 400: the EPCIS query
    binding's ``QueryParameterException``)."""


class QueryTooLargeError(ValidationError):
    """More events match than ``maxEventCount`` allows (HTTP 413: the binding's
    ``QueryTooLargeException``)."""


class SubscriptionControlsError(ValidationError):
    """A subscription's controls (destination, stream or schedule, signature token) are not
    ones to accept (HTTP 400: the EPCIS query binding's ``SubscriptionControlsException``)."""


class NotAcceptableError(ValidationError):
    """The answer cannot be given in the format or version the client asks for (HTTP 406)."""


class ConfigurationError(ProvenanceError, ValueError):
    """Settings are missing or unsafe (for example a placeholder secret outside development)."""


# --- Access and service ----------------------------------------------------------------------


class AuthenticationError(ProvenanceError):
    """No credentials, or credentials that match no active participant."""


class PermissionDeniedError(ProvenanceError):
    """The caller is known but may not do this."""


class NotFoundError(ProvenanceError, LookupError):
    """The thing asked for does not exist."""


class BackPressureError(ProvenanceError):
    """The service is saturated (for example, the chain is down and the backlog is full)."""

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class RateLimitedError(BackPressureError):
    """One client sent more than its budget (pack checks, failed authentications) allows."""


# --- Storage ---------------------------------------------------------------------------------


class StoreError(ProvenanceError):
    """The gateway's SQL store could not record or read something."""


class RecordNotFoundError(StoreError, LookupError):
    """A capture, event, batch or participant the caller named does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class StoreConflictError(StoreError):
    """A write broke a constraint: a duplicate key, a quantity below zero, a unit mismatch."""


class IntegrityViolationError(StoreError):
    """What the gateway stored no longer proves itself, so it is not served (409).

    ``rule`` names the check that failed (see :mod:`gateway.integrity`): an event whose stored
    JSON does not re-hash to its stored hash (``integrity.event-altered``), an event's
    ``(event hash, salt)`` not proven under its batch's anchored root
    (``integrity.proof-mismatch``), a batch whose events do not rebuild its anchored root
    (``integrity.root-mismatch``). ``event_ids`` are the events concerned, ``root`` the batch's
    anchored root (if it has one) and ``computed_root`` what its stored events give."""

    def __init__(
        self,
        message: str,
        *,
        rule: str,
        event_ids: tuple[str, ...] = (),
        root: bytes | None = None,
        computed_root: bytes | None = None,
    ) -> None:
        super().__init__(cut(message, MESSAGE_LIMIT))
        self.rule = rule
        self.event_ids = event_ids
        self.root = root
        self.computed_root = computed_root


class BatchStateError(StoreError):
    """A batch transition that its current state does not allow (e.g. anchoring a sealed batch)."""

    def __init__(self, batch_id: int, state: str, transition: str, allowed: tuple[str, ...]):
        super().__init__(
            f"batch {batch_id}: cannot {transition} from state {state!r}"
            f" (allowed from: {', '.join(allowed)})"
        )
        self.batch_id = batch_id
        self.state = state
        self.transition = transition
        self.allowed = allowed


class TriageTransitionError(ProvenanceError):
    """A triage action its alert's state does not allow (resolving a resolved alert, reopening
    an open one): 409, and nothing is changed. ``allowed``: the states the action is taken from."""

    def __init__(self, alert_key: str, state: str, action: str, allowed: tuple[str, ...]):
        super().__init__(
            f"alert {alert_key}: cannot {action} an alert that is {state}"
            f" (only one that is {' or '.join(allowed)})"
        )
        self.alert_key = alert_key
        self.state = state
        self.action = action
        self.allowed = allowed


class NotAnchoredYetError(ProvenanceError):
    """A receipt was asked for before the event's batch was anchored: ask again later."""


class AnchorReplacedError(ProvenanceError):
    """An anchor the gateway once recorded is no longer on chain where it was (a reorganisation
    took it away or moved it). ``details``: the old anchor and a pointer to the current one."""

    def __init__(self, message: str, *, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


# --- Origin proofs ---------------------------------------------------------------------------


class OriginError(ProvenanceError):
    """An origin proof cannot be made or read (medledger/formats/origin_bundle.py): unusable input,
    the CLI's exit code 2. No HTTP answer of its own: ``GET /origin/{id}`` answers a malformed
    parameter or an unmakeable bundle as a 422 :class:`ValidationError` and
    :class:`OriginUnknownError` as a 404 :class:`NotFoundError`."""


class MassBalanceError(OriginError):
    """The events do not allow the mass-balance computation, or a strength or tolerance is
    malformed (medledger/formats/mass_balance.py)."""


class OriginUnknownError(OriginError):
    """The index lacks what the bundle needs (no transformation, no producing event...)."""


class BundleFormatError(OriginError):
    """A document claims to be an origin bundle but is malformed."""


# --- Indexing --------------------------------------------------------------------------------


class IndexerError(ProvenanceError):
    """The indexer could not follow the chain or load a batch."""


class BatchUnavailableError(IndexerError):
    """A batch's contents could not be had. ``retryable``: worth asking again (network, 5xx);
    otherwise the source does not have it (404, no file) and the anchor is marked unavailable."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class BatchRefusedError(BatchUnavailableError):
    """The source refused a batch because what it stores no longer verifies (the gateway's 409
    ``integrity`` problem): an integrity incident, not an outage. ``evidence``: what the source
    said (rule, events, root)."""

    def __init__(self, message: str, *, evidence: dict[str, Any]) -> None:
        super().__init__(message, retryable=False)
        self.evidence = evidence


class ChainMovedError(IndexerError):
    """The chain changed under a read (a reorganisation during the step): read again."""
