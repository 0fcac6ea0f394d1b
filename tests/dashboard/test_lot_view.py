"""Where a pack stands in a recall (dashboard/lot_view.py), and a dashboard with no gateway key
for recalls: the lot page reads, and says recalls are not configured here."""

from __future__ import annotations

import httpx
import pytest

from dashboard.i18n import messages
from dashboard.lot_view import category
from provenance.journey import FINISHED_LOT
from tests.dashboard.conftest import World
from tests.indexer.test_check import GTIN

EN = messages("en")
MAKER = "0xMaker"
RECALL_BLOCK = 10


@pytest.mark.parametrize(
    ("status", "holder", "block", "expected"),
    [
        ("active", "0xPharmacy", 12, "on_shelves"),
        ("in_transit", "0xPharmacy", 12, "on_shelves"),
        ("active", MAKER, 9, "on_shelves"),  # never left its maker before the recall
        ("active", MAKER, 12, "returned"),  # back with its maker after the recall
        ("in_transit", MAKER, 12, "on_shelves"),  # shipped by the maker: still out there
        ("destroyed", "0xPharmacy", 12, "destroyed"),
        ("decommissioned", MAKER, 12, "destroyed"),
        ("dispensed", "0xPharmacy", 12, "dispensed"),
    ],
)
def test_a_pack_s_place_in_a_recall(status: str, holder: str, block: int, expected: str) -> None:
    assert category(status, holder, MAKER, block, RECALL_BLOCK) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", "returned"),  # received back by a return since the recall
        ("in_transit", "returned"),  # and sent further back up the chain
        ("destroyed", "destroyed"),  # then destroyed: the recall's end
    ],
)
def test_a_pack_received_back_by_a_return_is_returned(status: str, expected: str) -> None:
    assert category(status, "0xDistributor", MAKER, 12, RECALL_BLOCK, back=True) == expected


def test_without_a_recall_key_the_lot_page_says_recalls_are_not_configured(world: World) -> None:
    with httpx.Client(base_url=world.url, follow_redirects=True) as regulator:
        regulator.post("/login", data={"key": world.keys["regulator"]})
        page = regulator.get("/dashboard/lot", params={"gtin": GTIN, "lot": FINISHED_LOT})
        assert page.status_code == 200 and 'id="not-configured"' in page.text
        assert 'id="do-recall"' not in page.text
        recall = regulator.get("/dashboard/recall", params={"gtin": GTIN, "lot": FINISHED_LOT})
        assert recall.status_code == 200 and 'id="no-progress"' in recall.text
        assert f'id="state">{EN["lot.not_recalled"]}<' in recall.text  # registered, never recalled
    with httpx.Client(base_url=world.url, follow_redirects=True) as inspector:
        inspector.post("/login", data={"key": world.keys["inspector"]})
        refused = inspector.get("/dashboard/lot", params={"gtin": GTIN, "lot": FINISHED_LOT})
        assert refused.status_code == 403
