"""The gateway's services, one per resource (participants, capture, receipts, lots and codes,
recalls and notifications): what a route calls, each built from explicit dependencies (see
gateway/service.py, which wires them)."""
