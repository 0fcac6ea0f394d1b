"""Shortage thresholds per product class: ``PROVENANCE_INDEXER_SHORTAGE_DAYS``.

The setting is a default number of days of supply, then optional ``ATC=days`` entries, all
separated by ``;`` (``7;J01=14;N02BE=5``): a product whose master data gives an ATC code takes
the entry with the longest prefix of its code (the ATC classification's levels are prefixes:
``J01`` antibacterials, ``N02BE`` anilides), any other product the default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ATC = re.compile(r"^[A-Z][0-9A-Z]{0,6}$")


@dataclass(frozen=True)
class Thresholds:
    default: float
    by_class: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Thresholds:
        """Raises ValueError naming the part that is wrong."""
        default: float | None = None
        by_class: dict[str, float] = {}
        for part in (p.strip() for p in text.split(";")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            try:
                days = float(value if sep else name)
            except ValueError:
                raise ValueError(f"shortage days {part!r}: not a number of days") from None
            if not days > 0:
                raise ValueError(f"shortage days {part!r}: must be more than 0")
            if not sep:
                default = days
            elif _ATC.match(name.strip().upper()):
                by_class[name.strip().upper()] = days
            else:
                raise ValueError(f"shortage days {part!r}: {name!r} is not an ATC code prefix")
        if default is None:
            raise ValueError(f"shortage days {text!r}: no default number of days")
        return cls(default, by_class)

    def for_atc(self, atc: str | None) -> float:
        """The threshold of a product of ATC code ``atc`` (None: unknown)."""
        if atc:
            code = atc.upper()
            for length in range(len(code), 0, -1):
                found = self.by_class.get(code[:length])
                if found is not None:
                    return found
        return self.default
