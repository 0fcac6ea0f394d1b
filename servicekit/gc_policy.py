"""The cyclic garbage collector's settings for a long-running service process (the indexer's
follower, and each gateway process that captures).

CPython's defaults (a young-generation collection every 700 net allocations, a full one when
the objects that survived two collections have grown by a quarter) suit short scripts. The
follower allocates millions of short-lived objects per minute of catch-up (rows, states,
events from the workers) while it keeps up to :data:`indexer.store.state.CACHE_LIMIT` states
for good, and a batch in flight lives through several young collections: objects that then die
still count as survivors, and the full collections came about once every two seconds, each
walking every tracked object of the process (on a 1,000,000-event catch-up: 12.6 s of the
follower's 102 s, 8.8 s of them in full collections; docs/benchmarks.md).

:func:`tune_for_long_runs` collects the young generation every 50,000 allocations (a batch in
flight is then usually dead by the next collection, so it is never promoted) and moves what
exists once the process has started (modules, the contracts' ABIs, the SQL models) out of the
collector's sight (:func:`gc.freeze`): it lives as long as the process. Reference counting
still frees everything at once; only cycles wait longer.

The gateway (``provenance gateway``, each HTTP worker) applies it once its service is built, for
the same reason: a 1,000-event document is some 30,000 objects alive through the whole capture
(parsed JSON, normalised facts, records, custody changes), promoted as they survive, and each
full collection they set off walked every object of the process (about 7 µs of capture's CPU
per event, docs/benchmarks.md).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_for_long_runs() -> None:
    """Apply the policy to this process (``provenance indexer`` and ``provenance gateway`` do,
    once they have started)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
