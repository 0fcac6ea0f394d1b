"""What a gateway does once, when it starts: open and upgrade its store, load (or create) the
regulator's key, fund keys on development chains, find (or deploy) the contracts, store the
regulator as a participant; and the batcher a process of its own builds instead."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chain.client import Chain
from chain.deployment import Deployment, deploy_contracts
from chain.keystore import create_keystore, load_keystore, weak_keystores
from chain.ledger import Ledger
from chain.signer import Web3SignerClient
from gateway.batcher import Batcher, BatcherPolicy
from gateway.settings import GatewaySettings
from gateway.signing_keys import KeyRing
from gateway.store.engine import make_engine, session_factory, upgrade
from gateway.store.participants import (
    BATCH_READER_SCOPE,
    ApiKeys,
    create_participant,
    get_participant,
    list_participants,
)
from medledger.errors import ConfigurationError
from medledger.roles import Role
from servicekit.apikeys import SYSTEM
from servicekit.secrets import write_secret

log = logging.getLogger("provenance.gateway")

DEV_FUNDING_WEI = 10**20


def open_store(settings: GatewaySettings) -> Engine:
    """The store's engine, its schema upgraded (the data folder made first, 0700)."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    return engine


def fund(chain: Chain, address: str) -> None:
    """Give a new key gas on development chains; permissioned chains run at zero gas price."""
    if chain.dev_accounts() and chain.w3.eth.get_balance(address) == 0:  # type: ignore[arg-type]
        chain.fund(address, DEV_FUNDING_WEI)


def refuse_weak_keystores(settings: GatewaySettings) -> None:
    """Outside the demo and ``up --embedded``, a keystore with the development KDF (written by
    an earlier version on the public development password) is a start-up error naming the
    command that re-encrypts it: its key is as good as public."""
    if settings.development_password_allowed:
        return
    weak = weak_keystores(settings.resolved_keystore_dir)
    if weak:
        names = ", ".join(p.name for p in weak[:3]) + (", ..." if len(weak) > 3 else "")
        raise ConfigurationError(
            f"{settings.resolved_keystore_dir} holds {len(weak)} keystore(s) encrypted with a "
            f"fast KDF, maybe under the public development password ({names}): run "
            f"`provenance keys reencrypt {settings.data_dir}` (with the same "
            "PROVENANCE_GATEWAY_* settings) first"
        )


def key_ring(settings: GatewaySettings) -> KeyRing:
    """The participants' signers: their keystores, and the remote signer if one is set."""
    remote = None
    if settings.remote_signer_url is not None:
        remote = Web3SignerClient(
            settings.remote_signer_url, timeout=settings.remote_signer_timeout_seconds
        )
        if not remote.upcheck():  # not fatal: anchoring waits and retries until it answers
            log.warning("the remote signer at %s does not answer /upcheck", remote.url)
    return KeyRing(settings.keystore_password_value(), remote)


def regulator_account(settings: GatewaySettings, chain: Chain) -> LocalAccount:
    """The regulator's key from its keystore (created on first start), funded; weak
    keystores refused first (:func:`refuse_weak_keystores`)."""
    refuse_weak_keystores(settings)
    path = settings.resolved_keystore_dir / "regulator.json"
    password = settings.keystore_password_value()
    if path.exists():
        account = load_keystore(path, password)
    else:
        account = create_keystore(path, password, fast_kdf=settings.fast_kdf)
    fund(chain, account.address)
    return account


def deployment(
    settings: GatewaySettings,
    chain: Chain,
    regulator: LocalAccount,
    sessions: sessionmaker[Session],
) -> Deployment:
    """The deployment file's contracts if they are on this chain; else deployed anew (unless
    the store holds participants registered on another chain: ConfigurationError)."""
    path = settings.resolved_deployment_file
    if path.exists():
        found = Deployment.load(path)
        if found.chain_id == chain.chain_id and chain.w3.eth.get_code(
            found.anchor_registry  # type: ignore[arg-type]
        ):
            return found
        if _store_has_participants(sessions, regulator.address):
            raise ConfigurationError(
                f"{settings.data_dir} holds participants registered on another chain "
                "(an in-process chain is new each run): use a new data folder, or the node "
                "it was created on"
            )
        log.warning("deployment in %s is not on this chain; deploying anew", path)
    deployed = deploy_contracts(chain, regulator, int(settings.regulator_gln))
    deployed.save(path)
    return deployed


def _store_has_participants(sessions: sessionmaker[Session], regulator: str) -> bool:
    with sessions() as session:
        return any(p.address != regulator for p in list_participants(session))


def bootstrap_regulator(
    settings: GatewaySettings,
    write_sessions: sessionmaker[Session],
    api_keys: ApiKeys,
    regulator: LocalAccount,
) -> str | None:
    """Store the regulator as a participant; its first API key is written to a 0600 file."""
    with write_sessions() as session:
        if get_participant(session, regulator.address) is not None:
            return None
        create_participant(
            session,
            address=regulator.address,
            name="Regulator",
            roles=int(Role.REGULATOR),
            gln=settings.regulator_gln,
            keystore_path=str(settings.resolved_keystore_dir / "regulator.json"),
        )
        token = api_keys.issue(session, regulator.address, label="bootstrap")
    key_file = settings.data_dir / "regulator.api-key"
    write_secret(key_file, token)  # replaces the old file (or a link), never writes through it
    return token


#: The indexer's key in the export folder, and the label of the key the gateway issues for it.
INDEXER_KEY_FILE = "indexer.api-key"
INDEXER_KEY_LABEL = "indexer"


def export_for_indexer(
    settings: GatewaySettings,
    write_sessions: sessionmaker[Session],
    api_keys: ApiKeys,
    regulator: LocalAccount,
) -> Path:
    """Write what the indexer needs, and nothing more, to the export folder: a copy of the
    deployment file, and a ``batch-reader`` key of the regulator (0600; issued when the file is
    missing, the batch-reader keys it replaces revoked). The indexer mounts this folder
    read-only instead of the gateway's data folder, so it never sees the regulator's key."""
    folder = settings.resolved_export_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    deployment_copy = folder / "deployment.json"
    # A name of this process's own: gateway processes sharing the data folder (--workers,
    # side by side) start at once, and one shared name let one remove or refuse the other's.
    staged = folder / f".deployment.json.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    # 0600 like everything in the folder (the indexer runs as the same user)
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(settings.resolved_deployment_file.read_bytes())
        os.replace(staged, deployment_copy)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    key_file = folder / INDEXER_KEY_FILE
    if key_file.exists():
        return key_file
    with write_sessions() as session:
        for old in api_keys.listing(session, regulator.address):
            if old.scope == BATCH_READER_SCOPE and old.key.label == INDEXER_KEY_LABEL:
                api_keys.revoke_id(session, regulator.address, old.key.id, actor=SYSTEM)
        token = api_keys.issue(
            session,
            regulator.address,
            label=INDEXER_KEY_LABEL,
            scope=BATCH_READER_SCOPE,
            detail=f"written to {key_file}",
        )
    write_secret(key_file, token)
    return key_file


def batcher_policy(settings: GatewaySettings) -> BatcherPolicy:
    return BatcherPolicy(
        max_events=settings.batch_max_events,
        backlog_max_events=settings.batch_backlog_max_events,
        max_age_seconds=settings.batch_max_age_seconds,
        confirmations=settings.confirmations,
        resend_after_seconds=settings.resend_after_seconds,
        lost_after_seconds=settings.lost_after_seconds,
        retry_failed_after_seconds=settings.retry_failed_after_seconds,
        lease_seconds=settings.batcher_lease_seconds,
        reconcile_window_blocks=settings.reconcile_window_blocks,
        reconcile_interval_seconds=settings.reconcile_interval_seconds,
    )


@dataclass
class StandaloneBatcher:
    """A batcher with only what it needs (see :func:`standalone_batcher`)."""

    batcher: Batcher
    engine: Engine

    def stop(self) -> None:
        self.engine.dispose()


def standalone_batcher(settings: GatewaySettings) -> StandaloneBatcher:
    """The batcher of a gateway whose store and contracts are already set up (by its server
    process): the store's engine, the node, the deployment file and the key ring, nothing else.

    A batcher process builds this instead of a whole :class:`~gateway.service.GatewayService`
    (no migration, no EPCIS schema, no regulator key to decrypt, no deployment check), so it
    anchors sooner after a start (issue 21)."""
    if settings.chain_url is None:
        raise ConfigurationError("a batcher of its own needs a JSON-RPC node (chain_url)")
    engine = make_engine(settings.resolved_database_url)
    try:
        chain = Chain.from_url(settings.chain_url)
        ledger = Ledger(chain, Deployment.load(settings.resolved_deployment_file))
        keys = key_ring(settings)
        sessions = session_factory(engine, write=True)
        return StandaloneBatcher(Batcher(sessions, ledger, keys, batcher_policy(settings)), engine)
    except BaseException:
        engine.dispose()
        raise
