// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Gs1
/// @notice Validation of GS1 keys held as numbers (GLN, GTIN) and of GS1 alphanumeric values.
/// @dev Check digit: GS1 General Specifications §7.9.1 (mod-10, weights 3,1,3,... from the right,
///      starting at the digit next to the check digit). Leading zeros of a key held as a number do
///      not change its check digit, so a GTIN-8/12/13 padded to GTIN-14 validates the same way.
library Gs1 {
    /// @dev Bit `c` is set for every byte `c` of GS1 AI encodable character set 82 (§7.11):
    ///      ! " % & ' ( ) * + , - . / 0-9 : ; < = > ? A-Z _ a-z
    uint256 private constant _CSET82 = 0x07fffffe87fffffeffffffe600000000;

    /// @notice True if the last decimal digit of `key` is the GS1 check digit of the digits before it.
    function hasValidCheckDigit(uint256 key) internal pure returns (bool) {
        uint256 check = key % 10;
        uint256 rest = key / 10;
        uint256 sum;
        uint256 weight = 3;
        while (rest != 0) {
            sum += (rest % 10) * weight;
            rest /= 10;
            weight = 4 - weight; // alternates 3, 1, 3, ...
        }
        return (10 - (sum % 10)) % 10 == check;
    }

    /// @notice True if every byte of `value` is in GS1 character set 82.
    function isCset82(bytes calldata value) internal pure returns (bool) {
        for (uint256 i; i < value.length; ++i) {
            uint8 c = uint8(value[i]);
            if ((_CSET82 >> c) & 1 == 0) return false;
        }
        return true;
    }
}
