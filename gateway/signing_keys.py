"""Custodial participant keys: decrypted once from their keystore files, kept in memory."""

from __future__ import annotations

import threading
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.keystore import load_keystore
from medledger.errors import KeystoreError


class KeyRing:
    """Loads the keystore of a participant on first use; one password for the gateway's keys."""

    def __init__(self, password: str) -> None:
        self._password = password
        self._accounts: dict[str, LocalAccount] = {}
        self._lock = threading.Lock()

    def account(self, address: str, keystore_path: str | None) -> LocalAccount:
        """The participant's key; a KeystoreError if the gateway does not hold it."""
        with self._lock:
            known = self._accounts.get(address)
            if known is not None:
                return known
            if keystore_path is None:
                raise KeystoreError(
                    f"the gateway holds no key for {address}: it must anchor with its own key"
                )
            account = load_keystore(Path(keystore_path), self._password)
            if account.address != address:
                raise KeystoreError(
                    f"keystore {keystore_path} holds {account.address}, not {address}"
                )
            self._accounts[address] = account
            return account
