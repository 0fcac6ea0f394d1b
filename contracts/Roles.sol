// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Roles
/// @notice Participant roles as bits of a uint32 mask. A participant may hold several roles.
/// @dev Bit positions are part of the on-chain data model: never renumber, only append.
library Roles {
    uint32 internal constant API_MAKER = 1 << 0;
    uint32 internal constant MANUFACTURER = 1 << 1;
    uint32 internal constant IMPORTER = 1 << 2;
    uint32 internal constant DISTRIBUTOR = 1 << 3;
    uint32 internal constant WHOLESALER = 1 << 4;
    uint32 internal constant PHARMACY = 1 << 5;
    uint32 internal constant HOSPITAL = 1 << 6;
    uint32 internal constant AUDITOR = 1 << 7;
    uint32 internal constant REGULATOR = 1 << 8;
    /// @notice A pharmacovigilance officer: suspends lots pending investigation and lifts the
    ///         suspension (RecallRegistry); records no supply-chain events.
    uint32 internal constant PHARMACOVIGILANCE = 1 << 9;

    /// @notice Every defined role.
    uint32 internal constant ALL = (1 << 10) - 1;

    /// @notice Roles that may anchor event batches: every role except the read-only auditor and
    ///         the pharmacovigilance officer, who keep no custody of anything.
    uint32 internal constant SUBMITTING = ALL & ~(AUDITOR | PHARMACOVIGILANCE);
}
