"""The ``provenance`` command line: the one front door to the chain, gateway and indexer."""
