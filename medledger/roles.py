"""Participant roles, a bitmask mirrored from ``contracts/Roles.sol`` (a test checks they agree)."""

from __future__ import annotations

from enum import IntFlag


class Role(IntFlag):
    API_MAKER = 1 << 0
    MANUFACTURER = 1 << 1
    IMPORTER = 1 << 2
    DISTRIBUTOR = 1 << 3
    WHOLESALER = 1 << 4
    PHARMACY = 1 << 5
    HOSPITAL = 1 << 6
    AUDITOR = 1 << 7
    REGULATOR = 1 << 8
    PHARMACOVIGILANCE = 1 << 9  # suspends lots pending investigation; anchors nothing

    @classmethod
    def parse(cls, text: str) -> Role:
        """``"manufacturer,importer"`` or ``"api-maker"`` to a mask; unknown names are an error."""
        mask = cls(0)
        for part in text.replace("|", ",").split(","):
            name = part.strip().upper().replace("-", "_")
            if not name:
                continue
            if name not in cls.__members__:
                known = ", ".join(m.lower().replace("_", "-") for m in cls.__members__)
                raise ValueError(f"unknown role {part.strip()!r}; known roles: {known}")
            mask |= cls[name]
        return mask

    def names(self) -> list[str]:
        return [m.name.lower().replace("_", "-") for m in Role if m in self and m.name]


#: Every role that may anchor events (all but the auditor, who only reads, and the
#: pharmacovigilance officer, who holds nothing).
SUBMITTING = Role(0x3FF) & ~(Role.AUDITOR | Role.PHARMACOVIGILANCE)
