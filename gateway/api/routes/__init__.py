"""The routes, one module per resource (participants, capture, receipts, lots and codes, recalls
and notifications, operations); every error is problem+json (see servicekit/http/problems.py)."""
