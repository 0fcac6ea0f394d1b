"""Read-only queries over the index: plain functions taking a Session, returning JSON-ready dicts.

One module per resource. Lists use keyset pagination (:mod:`indexer.queries.pages`): ``limit``
(default 100, at most 1000 unless a query says otherwise) and an opaque ``cursor``; the answer
is ``{"items": [...], "next": cursor or None}``. Bad input raises
:class:`medledger.errors.ValidationError`,
an unknown identifier :class:`medledger.errors.NotFoundError`.
"""

from indexer.queries.pages import DEFAULT_LIMIT, MAX_LIMIT, Page

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Page"]
