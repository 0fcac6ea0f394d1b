"""The indexer's SQL: models, migrations and the writes the follower makes."""

from indexer.store.engine import make_engine, session_factory, upgrade

__all__ = ["make_engine", "session_factory", "upgrade"]
