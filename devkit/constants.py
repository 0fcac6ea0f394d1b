"""Fixed facts the tests, the benchmarks and the demo data share."""

from __future__ import annotations

#: The regulator's GLN in every test network (a valid GS1 check digit).
REGULATOR_GLN = 4700000100002
