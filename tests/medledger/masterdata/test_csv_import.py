"""Master data from CSV: the documented columns, and errors that name the line and column."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medledger.errors import ValidationError
from medledger.masterdata.csv_import import records_from_csv
from medledger.masterdata.views import location, product

RECEIVED = datetime(2026, 3, 1, tzinfo=UTC)
GOOD = """kind,id,effective_time,name,city,country_code,subdivision,latitude,longitude,parent_site,dosage_form,strength,net_content,atc_code,ma_holder
location,4700000000012,2026-01-01T00:00:00Z,Bishkek depot,Bishkek,KG,C,42.87,74.59,,,,,,
location,urn:epc:id:sgln:4700000.00001.7,,Cold room,,KG,KG-C,,,4700000000012,,,,,
product,04700000123452,2026-01-01T00:00:00Z,Amoxicillin 500 mg,,,,,,,CAPSULE,500 mg,20 capsules,J01CA04,Kyrgyz Pharm LLC
"""  # noqa: E501


def test_rows_become_records() -> None:
    depot, room, drug = records_from_csv(GOOD, received=RECEIVED)
    assert location(depot).region == "KG-C" and location(depot).city == "Bishkek"
    assert depot.effective_time == datetime(2026, 1, 1, tzinfo=UTC)
    assert room.effective_time == RECEIVED  # effective_time left empty
    assert location(room).parent_site == "4700000000012"
    assert (product(drug).name, product(drug).net_content) == ("Amoxicillin 500 mg", "20 capsules")


def test_the_same_row_twice_is_one_record() -> None:
    lines = GOOD.splitlines()
    assert len(records_from_csv("\n".join([*lines, lines[1]]), received=RECEIVED)) == 3


@pytest.mark.parametrize(
    ("text", "pointer", "rule"),
    [
        ("kind,id,colour\n", "/1", "masterdata.csv"),
        ("kind,name\n", "/1", "masterdata.csv"),
        ("", "/1", "masterdata.csv"),
        ("kind,id\nshelf,4700000000012\n", "/2/kind", "masterdata.csv"),
        ("kind,id,atc_code\nlocation,4700000000012,J01\n", "/2/atc_code", "masterdata.csv"),
        (
            "kind,id,country_code,subdivision\nlocation,4700000000012,KG,ZZ\n",
            "/2/subdivision",
            "masterdata.subdivision",
        ),
        ("kind,id,latitude\nlocation,4700000000012,north\n", "/2/latitude", "masterdata.attribute"),
        ("kind,id\nproduct,4700000000013\n", "/2/id", "masterdata.id"),
        (
            "kind,id,effective_time\nproduct,04700000123452,yesterday\n",
            "/2/effective_time",
            "masterdata.effective-time",
        ),
        ("kind,id\nproduct,04700000123452,extra\n", "/2", "masterdata.csv"),
    ],
)
def test_bad_files_name_the_line_and_column(text: str, pointer: str, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        records_from_csv(text, received=RECEIVED)
    assert (caught.value.pointer, caught.value.rule) == (pointer, rule)


PATIENT_FACTS = """kind,id,name,registration_status,registration_number,leaflet_url,max_retail_price,price_currency
product,04700000123452,Amoxicillin 500 mg,Registered,KG-LS-2024-0117,https://leaflets.example.kg/amoxicillin.pdf,125.50,kgs
"""  # noqa: E501


def test_a_product_row_carries_what_a_patient_reads() -> None:
    (drug,) = records_from_csv(PATIENT_FACTS, received=RECEIVED)
    facts = product(drug)
    assert facts.registration_status == "registered"
    assert facts.registration_number == "KG-LS-2024-0117"
    assert facts.leaflet_url == "https://leaflets.example.kg/amoxicillin.pdf"
    assert (facts.max_retail_price, facts.price_currency) == ("125.5", "KGS")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("registration_status", "pending"),
        ("leaflet_url", "javascript:alert(1)"),
        ("leaflet_url", "leaflet.pdf"),
        ("max_retail_price", "-1"),
        ("max_retail_price", "cheap"),
        ("max_retail_price", "1e400"),
        ("price_currency", "soms"),
    ],
)
def test_patient_facts_that_do_not_check_name_their_column(column: str, value: str) -> None:
    text = f"kind,id,{column}\nproduct,04700000123452,{value}\n"
    with pytest.raises(ValidationError) as caught:
        records_from_csv(text, received=RECEIVED)
    assert (caught.value.pointer, caught.value.rule) == (f"/2/{column}", "masterdata.attribute")


def test_patient_facts_are_product_columns() -> None:
    with pytest.raises(ValidationError) as caught:
        records_from_csv("kind,id,max_retail_price\nlocation,4700000000012,10\n", received=RECEIVED)
    assert caught.value.pointer == "/2/max_retail_price"
