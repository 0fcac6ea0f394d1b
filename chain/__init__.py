"""Ledger core: contracts access, Merkle trees, receipts and their verification."""
