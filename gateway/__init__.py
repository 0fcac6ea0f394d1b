"""Gateway: EPCIS 2.0 capture, custody rules, durable batching and anchoring."""
