"""Helpers shared by the tests: real nodes from node_modules, shared vectors."""
