"""The indexer's read-only HTTP API (FastAPI): traces, state, stock, recalls, alerts."""
