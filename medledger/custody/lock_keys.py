"""What a document's custody check must hold still: the names of its locks, and their numbers.

The pharma rules read and write custody state keyed by instance identifier (an item, and the list
of items packed inside it), by class identifier (a lot's record and its quantities) and by lot
(``(gtin, lot)``: who may commission into it, how many packs it has). A capture that holds a lock
on every key it reads, for as long as its transaction lasts, sees a state no concurrent capture
changes under it, so concurrent captures end as some serial order of them would
(docs/architecture.md, "Custody locks"). Two captures about different packs share no key and
never wait for each other.

Pure: names and numbers only; :mod:`gateway.store.custody_locks` takes them on PostgreSQL.

- :func:`item_key`: an instance or class identifier; it also covers the identifier's *children*
  (what is packed inside it), so whoever changes an item's parent holds the old and new parent too.
- :func:`lot_key`: a lot's authority (declarer or claimant, declared and commissioned packs).
- :func:`document_keys`: the keys a document names outright, taken together in one sorted pass
  before its check reads anything (the ones it discovers while reading, an item's parent or
  contents, are taken as it reads them).
- :data:`GLOBAL_KEY`: the whole custody state; every capture holds it shared, and what needs a
  still view of everything (recalls, code issuance) holds it exclusively.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from medledger.epcis.digital_link import gtin_of, is_serial, lot_of_class
from medledger.epcis.normalise import NormalisedEvent

#: The advisory lock key of the whole custody state ("prov"; the key of the one global lock every
#: capture took before issue 19).
GLOBAL_KEY = 0x70726F76


def item_key(identifier: str) -> str:
    """An instance or class identifier: its state, its quantities and the items packed in it."""
    return f"item:{identifier}"


def lot_key(gtin: str, lot: str) -> str:
    """Who may commission packs into ``lot`` of ``gtin``, and how many it has."""
    return f"lot:{gtin}|{lot}"


def key_number(name: str) -> int:
    """A lock name as a signed 64-bit number (PostgreSQL's ``bigint`` advisory lock key): the
    first 8 bytes of its BLAKE2b digest. Two names sharing a number only wait for each other."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def key_numbers(names: Iterable[str]) -> list[int]:
    """The numbers of ``names``, each once, in ascending order: the order every capture takes its
    locks in, so that no two captures each hold a lock the other waits for."""
    return sorted({key_number(n) for n in names})


def document_keys(events: Iterable[NormalisedEvent]) -> set[str]:
    """The lock names the events name outright: every identifier (EPCs, children, parent, inputs,
    outputs, quantity classes) and every lot a pack or a class is commissioned into."""
    names: set[str] = set()
    for ev in events:
        identifiers = {*ev.epcs, *ev.child_epcs, *ev.input_epcs, *ev.output_epcs}
        if ev.parent_id:
            identifiers.add(ev.parent_id)
        classes = {
            q.class_id for q in (*ev.quantities, *ev.input_quantities, *ev.output_quantities)
        }
        names.update(item_key(i) for i in identifiers | classes)
        if ev.lot is not None:
            for epc in (*ev.epcs, *ev.output_epcs):
                gtin = gtin_of(epc)
                if gtin is not None and is_serial(epc):
                    names.add(lot_key(gtin, ev.lot))
        for class_id in classes:
            gtin_lot = lot_of_class(class_id)
            if gtin_lot is not None:
                names.add(lot_key(*gtin_lot))
    return names
