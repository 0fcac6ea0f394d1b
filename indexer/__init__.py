"""Indexer: a verified SQL mirror of the chain, and the queries over it."""
