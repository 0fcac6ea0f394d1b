"""Mass balance of a TransformationEvent: the API it consumed against the packs it claims.

The one formula, shared by the indexer's ``mass-balance`` alert and by origin proofs
(:mod:`provenance.origin` imports it): API consumed = the sum of the input quantities, in
kilograms (``KGM``, ``GRM``, ``MGM``); API required = packs produced (output EPCs plus counted
output quantities) times the API content of one pack, the ``mpl:apiPerPack`` of the
transformation's ILMD (``12.5 g``). The balance holds when required <= consumed x (1 +
tolerance).

Pure: no database, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from medledger.epcis.terms import MPL_NAMESPACE
from medledger.errors import MassBalanceError as MassBalanceError

DEFAULT_TOLERANCE = Decimal("0.05")

#: The project's EPCIS extension namespace (``mpl`` in a document's ``@context``).
EXTENSION_NAMESPACE = MPL_NAMESPACE
API_PER_PACK_TERM = "apiPerPack"

#: UN/CEFACT units of mass the inputs may be given in, as kilograms.
MASS_UNITS = {"KGM": Decimal(1), "GRM": Decimal("0.001"), "MGM": Decimal("0.000001")}
#: Units that count pieces (an output quantity without a unit counts pieces too).
COUNT_UNITS = {"EA", "H87", "C62"}
_STRENGTH_UNITS = {"kg": Decimal(1), "g": Decimal("0.001"), "mg": Decimal("0.000001")}
_STRENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mg|g|kg)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Strength:
    """API content of one pack."""

    kg: Decimal
    text: str


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros."""
    return format(value.normalize(), "f")


def parse_strength(text: str) -> Strength:
    """``12.5g``, ``12.5 g``, ``12500 mg``, ``0.0125 kg`` -> a :class:`Strength`."""
    match = _STRENGTH.match(text) if isinstance(text, str) else None
    if match is None:
        raise MassBalanceError(
            f"API per pack must be a number and mg, g or kg (e.g. 12.5g), got {text!r}"
        )
    value = Decimal(match.group(1))
    unit = match.group(2).lower()
    if value <= 0:
        raise MassBalanceError(f"API per pack must be positive, got {text!r}")
    return Strength(kg=value * _STRENGTH_UNITS[unit], text=f"{plain(value)} {unit}")


def extension_keys(event: dict[str, Any], term: str) -> set[str]:
    """The keys an ILMD may use for ``term`` of our namespace, given the event's @context."""
    keys = {EXTENSION_NAMESPACE + term}
    context = event.get("@context")
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, dict):
            for prefix, iri in entry.items():
                if iri == EXTENSION_NAMESPACE:
                    keys.add(f"{prefix}:{term}")
    return keys


def ilmd_strength(event: dict[str, Any]) -> Strength | None:
    """The ``mpl:apiPerPack`` of a transformation's ILMD (None if absent)."""
    ilmd = event.get("ilmd")
    if not isinstance(ilmd, dict):
        return None
    for key in extension_keys(event, API_PER_PACK_TERM):
        if key in ilmd:
            return parse_strength(ilmd[key])
    return None


@dataclass(frozen=True)
class MassBalance:
    """Recomputed from the transformation events: API consumed vs. what the output needs."""

    consumed_kg: Decimal
    produced: int
    required_kg: Decimal
    tolerance: Decimal
    strengths: tuple[tuple[str, str], ...]  # (strength text, where it came from)

    @property
    def limit_kg(self) -> Decimal:
        return self.consumed_kg * (1 + self.tolerance)

    @property
    def ok(self) -> bool:
        return self.required_kg <= self.limit_kg

    @property
    def max_packs(self) -> int | None:
        """Packs the API consumed could make within the tolerance (one strength only)."""
        if len({s for s, _ in self.strengths}) != 1 or self.produced == 0:
            return None
        per_pack = self.required_kg / self.produced
        return int((self.limit_kg / per_pack).to_integral_value(rounding=ROUND_FLOOR))

    def to_json(self) -> dict[str, Any]:
        return {
            "apiConsumedKg": plain(self.consumed_kg),
            "packsProduced": self.produced,
            "apiPerPack": [{"value": s, "source": src} for s, src in self.strengths],
            "apiRequiredKg": plain(self.required_kg),
            "tolerance": plain(self.tolerance),
            "apiLimitKg": plain(self.limit_kg),
            "maxPacks": self.max_packs,
            "withinTolerance": self.ok,
        }

    def describe(self) -> str:
        strengths = ", ".join(f"{s} ({src})" for s, src in self.strengths)
        text = (
            f"{self.produced} packs at {strengths} per pack need {plain(self.required_kg)} kg "
            f"of API; {plain(self.consumed_kg)} kg consumed (at most {plain(self.limit_kg)} kg "
            f"with {plain(self.tolerance * 100)}% tolerance"
        )
        if self.max_packs is not None:
            text += f", enough for {self.max_packs} packs"
        return text + ")"


def compute_mass_balance(
    transformations: list[dict[str, Any]],
    *,
    override: Strength | None = None,
    declared: Strength | None = None,
    tolerance: Decimal = DEFAULT_TOLERANCE,
) -> MassBalance:
    """API consumed (sum of the input quantities, in kg) against packs produced (output EPCs
    plus counted output quantities) times the API per pack.

    The strength is, in order: ``override`` (``--api-per-pack``), the transformation's
    ``mpl:apiPerPack`` ILMD, ``declared`` (stated in the bundle, covered by no receipt).
    Raises :class:`MassBalanceError` when the events do not allow the computation.
    """
    consumed = Decimal(0)
    produced = 0
    required = Decimal(0)
    strengths: list[tuple[str, str]] = []
    for event in transformations:
        for item in event.get("inputQuantityList") or []:
            uom = item.get("uom") if isinstance(item, dict) else None
            if uom not in MASS_UNITS:
                raise MassBalanceError(
                    f"input {item.get('epcClass') if isinstance(item, dict) else item!r} is not "
                    f"a mass (uom {uom!r}; KGM, GRM or MGM expected)"
                )
            consumed += _number(item.get("quantity")) * MASS_UNITS[uom]
        if event.get("inputEPCList"):
            raise MassBalanceError("inputs given as instances (inputEPCList) carry no mass")
        count = len(event.get("outputEPCList") or [])
        for item in event.get("outputQuantityList") or []:
            uom = item.get("uom") if isinstance(item, dict) else None
            if uom is not None and uom not in COUNT_UNITS:
                raise MassBalanceError(f"output quantity in {uom!r} is not a count of packs")
            quantity = _number(item.get("quantity") if isinstance(item, dict) else None)
            if quantity != quantity.to_integral_value():
                raise MassBalanceError(f"output quantity {quantity} is not a whole number of packs")
            count += int(quantity)
        own = ilmd_strength(event)
        if override is not None:
            strength, source = override, "--api-per-pack"
        elif own is not None:
            strength, source = own, "ilmd"
        elif declared is not None:
            strength, source = declared, "declared in the bundle, not anchored"
        else:
            raise MassBalanceError(
                "no API per pack: neither an mpl:apiPerPack ILMD nor --api-per-pack was given"
            )
        produced += count
        required += count * strength.kg
        if (strength.text, source) not in strengths:
            strengths.append((strength.text, source))
    if consumed <= 0:
        raise MassBalanceError("the transformation consumed no API")
    return MassBalance(consumed, produced, required, tolerance, tuple(strengths))


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MassBalanceError(f"quantity {value!r} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise MassBalanceError(f"quantity {value!r} is not a number") from exc
    if not number.is_finite() or number < 0:
        raise MassBalanceError(f"quantity {value!r} is not a non-negative number")
    return number
