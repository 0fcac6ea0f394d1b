"""The gateway's HTTP API (FastAPI): capture, events, receipts, batches, participants."""
