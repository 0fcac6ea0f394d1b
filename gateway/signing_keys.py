"""Who signs for a participant: a remote signer that holds its key, or its custodial keystore.

With a remote signer (``PROVENANCE_GATEWAY_REMOTE_SIGNER_URL``, a Web3Signer) the rule is: **a
participant whose address the signer's ``eth_accounts`` lists is signed there**, whether or not
the gateway also has a keystore for it; every other participant is signed with its keystore,
decrypted once and kept in memory. The choice is made on an address's first transaction in this
process and kept (so local signing costs nothing more per transaction): a key moved into the
remote signer is used from the gateway's next start. While the signer cannot be asked, an
address not yet resolved gets :class:`SignerError` (retried like any refused transaction), never
a silent fallback to a local key.
"""

from __future__ import annotations

import threading
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.keystore import load_keystore
from chain.signer import Signer, Web3SignerClient
from medledger.errors import KeystoreError


class KeyRing:
    """Signers of the gateway's participants; one password for the keystores it holds."""

    def __init__(self, password: str, remote: Web3SignerClient | None = None) -> None:
        self._password = password
        self.remote = remote
        self._accounts: dict[str, LocalAccount] = {}
        self._signers: dict[str, Signer] = {}
        self._lock = threading.Lock()

    def signer(self, address: str, keystore_path: str | None) -> Signer:
        """What signs ``address``'s transactions: the remote signer if it holds the key, else
        the keystore's key; a KeystoreError if neither has it, a SignerError if the remote
        signer cannot be asked (nothing is decided then)."""
        known = self._signers.get(address)
        if known is not None:
            return known
        signer: Signer | None = None
        if self.remote is not None and address in self.remote.accounts():
            signer = self.remote.signer(address)
        if signer is None:
            if keystore_path is None and self.remote is not None:
                raise KeystoreError(
                    f"the gateway holds no key for {address} and the remote signer at "
                    f"{self.remote.url} does not list it: load its key there, or the "
                    "participant anchors with its own key"
                )
            signer = self.account(address, keystore_path)
        with self._lock:
            return self._signers.setdefault(address, signer)

    def account(self, address: str, keystore_path: str | None) -> LocalAccount:
        """The participant's key from its keystore; a KeystoreError if the gateway holds none."""
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
