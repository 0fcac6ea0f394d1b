"""CBV vocabulary terms: bare strings, URNs and Web URIs normalised to one canonical form.

EPCIS 2.0 JSON-LD writes standard vocabulary as bare terms (``shipping``), and older or XML-minded
clients send the CBV 1.x URN (``urn:epcglobal:cbv:bizstep:shipping``) or the CBV 2.0 Web URI
(``https://ref.gs1.org/cbv/BizStep-shipping``). All three mean the same thing.

Canonical form: the CBV 2.0 Web URI (``https://ref.gs1.org/cbv/BizStep-shipping``). It is what the
JSON-LD contexts expand a bare term to, and what the CBV 2.0 event hash puts in its pre-hash string
(rules 14 and 16 of the algorithm), so the stored value, the hashed value and any JSON-LD processor
agree. :func:`bare_term` gives the short name back for display and rule tables.

The term lists are read from the GS1 JSON-LD context files (offline; by default the vendored
copies), so a new CBV release is a file update, not a code change. A bare string that is not a
standard term is rejected; any other absolute URI is a legitimate non-CBV (extension) value
and is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from medledger.epcis.resources import DEFAULT_CONTEXT_DIR
from medledger.errors import ConfigurationError, ValidationError, echo

CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"
#: The project's EPCIS extension namespace (docs/origin.md): ``mpl:apiPerPack`` in an ILMD, with
#: ``"mpl"`` mapped to this IRI in the document's ``@context``.
MPL_NAMESPACE = "https://ns.medicine-provenance-ledger.org/epcis/"


@dataclass(frozen=True)
class _Kind:
    field: str  # the EPCIS field, for messages
    context_file: str
    web_prefix: str  # e.g. https://ref.gs1.org/cbv/BizStep-
    urn_prefix: str | None  # e.g. urn:epcglobal:cbv:bizstep:


_U = "urn:epcglobal:cbv:"
KINDS: dict[str, _Kind] = {
    "bizStep": _Kind("bizStep", "cbv-context-bizstep.jsonld", CBV + "BizStep-", _U + "bizstep:"),
    "disposition": _Kind(
        "disposition", "cbv-context-disposition.jsonld", CBV + "Disp-", _U + "disp:"
    ),
    "bizTransactionType": _Kind(
        "bizTransaction type", "cbv-context-biztransaction-type.jsonld", CBV + "BTT-", _U + "btt:"
    ),
    "sourceDestType": _Kind(
        "source/destination type", "cbv-context-sourcedest-type.jsonld", CBV + "SDT-", _U + "sdt:"
    ),
    "errorReason": _Kind(
        "error reason", "cbv-context-error-reason.jsonld", CBV + "ER-", _U + "er:"
    ),
    "component": _Kind("component", "cbv-context-component.jsonld", CBV + "Comp-", None),
    "measurementType": _Kind(
        "measurement type", "gs1-context-measurement-type.jsonld", GS1_VOC, None
    ),
    "sensorAlertType": _Kind("sensor alert", "gs1-context-sensor-alert-type.jsonld", GS1_VOC, None),
}


def _expand(value: str, prefixes: dict[str, str]) -> str:
    prefix, sep, rest = value.partition(":")
    if sep and prefix in prefixes:
        return prefixes[prefix] + rest
    return value


def _read_terms(path: Path) -> dict[str, str]:
    try:
        context: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["@context"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"cannot read JSON-LD context {path}: {exc}") from exc
    prefixes = {k: v for k, v in context.items() if isinstance(v, str) and v.endswith(("/", "#"))}
    return {
        k: _expand(v, prefixes)
        for k, v in context.items()
        if not k.startswith("@") and k not in prefixes and isinstance(v, str)
    }


class Vocabulary:
    """Standard CBV / GS1 terms per kind, read from the JSON-LD context files in ``context_dir``."""

    def __init__(self, tables: dict[str, dict[str, str]]) -> None:
        self.tables = tables
        # reverse lookup: Web URI -> bare term, and URN -> Web URI
        self._uris: dict[str, dict[str, str]] = {
            kind: {uri: term for term, uri in table.items()} for kind, table in tables.items()
        }

    @classmethod
    def from_context_dir(cls, context_dir: str | Path = DEFAULT_CONTEXT_DIR) -> Vocabulary:
        return _load_vocabulary(Path(context_dir).resolve())

    def expand(self, kind: str, value: str) -> str:
        """Bare term -> Web URI if ``value`` is a standard term of ``kind``; otherwise unchanged."""
        return self.tables[kind].get(value, value)

    def normalise(self, kind: str, value: object, *, pointer: str | None = None) -> str:
        """Canonical Web URI for a ``kind`` value given as bare term, CBV URN or Web URI.

        Raises :class:`ValidationError` (rule ``cbv.<kind>``) for a bare string that is not a
        standard term and for an unknown term inside the standard CBV namespaces.
        """
        spec = KINDS[kind]
        if not isinstance(value, str) or not value:
            raise ValidationError(
                f"{spec.field} must be a non-empty string, got {echo(value)}",
                rule=f"cbv.{kind}",
                pointer=pointer,
            )
        table = self.tables[kind]
        if value in table:
            return table[value]
        term: str | None = None
        if spec.urn_prefix and value.startswith(spec.urn_prefix):
            term = value[len(spec.urn_prefix) :]
        elif value.startswith(spec.web_prefix):
            term = value[len(spec.web_prefix) :]
        if term is not None:
            if term in table:
                return table[term]
            raise ValidationError(
                f"{spec.field} {echo(value)} uses the standard CBV namespace but {echo(term)} is "
                f"not a standard {spec.field} term",
                rule=f"cbv.{kind}",
                pointer=pointer,
            )
        if ":" in value and not value.startswith(("urn:epcglobal:cbv:", CBV)):
            return value  # a non-CBV URI: EPCIS allows extension vocabularies
        raise ValidationError(
            f"{spec.field} {echo(value)} is neither a standard CBV term (e.g. "
            f"{next(iter(table))!r}) nor a URI",
            rule=f"cbv.{kind}",
            pointer=pointer,
        )

    def bare_term(self, kind: str, uri: str) -> str | None:
        """The bare term for a canonical Web URI, or None for a non-standard value."""
        return self._uris[kind].get(uri)


@lru_cache(maxsize=4)
def _load_vocabulary(context_dir: Path) -> Vocabulary:
    return Vocabulary(
        {kind: _read_terms(context_dir / k.context_file) for kind, k in KINDS.items()}
    )


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    """The vocabulary of the vendored GS1 context files (cached: it is asked for per event, and
    resolving the context folder's path each time cost a fifth of the gateway's capture CPU)."""
    return Vocabulary.from_context_dir(DEFAULT_CONTEXT_DIR)


def normalise_bizstep(value: object, vocabulary: Vocabulary | None = None) -> str:
    """``shipping`` / ``urn:epcglobal:cbv:bizstep:shipping`` -> ``https://ref.gs1.org/cbv/BizStep-shipping``."""
    return (vocabulary or default_vocabulary()).normalise("bizStep", value)


def normalise_disposition(value: object, vocabulary: Vocabulary | None = None) -> str:
    """``in_transit`` / ``urn:epcglobal:cbv:disp:in_transit`` -> ``https://ref.gs1.org/cbv/Disp-in_transit``."""
    return (vocabulary or default_vocabulary()).normalise("disposition", value)


def bare_term(kind: str, uri: str, vocabulary: Vocabulary | None = None) -> str | None:
    """``https://ref.gs1.org/cbv/BizStep-shipping`` -> ``shipping`` (None if not standard)."""
    return (vocabulary or default_vocabulary()).bare_term(kind, uri)
