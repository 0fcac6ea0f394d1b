"""``python -m provenance``: the ``provenance`` command, from this source tree."""

from provenance.cli import main

main()
