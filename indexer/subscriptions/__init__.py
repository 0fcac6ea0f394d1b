"""Named EPCIS queries and their subscriptions: stored per reader (named.py), webhook
subscriptions (store.py) and their delivery (delivery.py). See docs/indexer.md."""
