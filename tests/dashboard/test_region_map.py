"""dashboard/region_map.RegionMap: a GeoJSON file of region shapes, read once, drawn as inline
SVG: each coded region a linked, titled path shaded by its packs; an inspector's map has its
region's shapes only; a file that is not a FeatureCollection of coded polygons is refused with
what is wrong (the indexer does not start: exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.region_map import SHADES, RegionMap
from medledger.errors import ValidationError

RING = [[74.0, 42.0], [75.0, 42.0], [75.0, 43.0], [74.0, 43.0], [74.0, 42.0]]


def geojson(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "regions.geojson"
    path.write_text(json.dumps(document))
    return path


def feature(properties: dict[str, str], geometry: dict[str, object]) -> dict[str, object]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def two_regions(tmp_path: Path) -> RegionMap:
    shifted = [[x + 2, y] for x, y in RING]
    return RegionMap.load(
        geojson(
            tmp_path,
            {
                "type": "FeatureCollection",
                "features": [
                    feature({"iso_3166_2": "kg-gb"}, {"type": "Polygon", "coordinates": [RING]}),
                    feature(
                        {"region": "KG-GO"}, {"type": "MultiPolygon", "coordinates": [[shifted]]}
                    ),
                    feature({"name": "no code"}, {"type": "Polygon", "coordinates": [RING]}),
                    feature({"code": "KG-C"}, {"type": "Point", "coordinates": [74, 42]}),
                ],
            },
        )
    )


def test_coded_polygons_are_drawn_linked_titled_and_shaded_by_packs(tmp_path: Path) -> None:
    shapes = two_regions(tmp_path)
    assert sorted(shapes.shapes) == ["KG-GB", "KG-GO"]  # uncoded and non-polygons left out
    svg = shapes.draw({"KG-GB": 10}, lambda c: f"<{c}>", lambda c: f"/s?region={c}", "Map")
    assert svg is not None and svg.startswith("<svg") and '<title id="map-title">Map' in svg
    assert svg.count("<path ") == 2 and 'href="/s?region=KG-GB"' in svg
    assert "&lt;KG-GB&gt;: 10" in svg  # names escaped
    assert f'fill="{SHADES[-1]}" stroke="#fff" stroke-width="1" data-region="KG-GB"' in svg
    assert f'fill="{SHADES[0]}" stroke="#fff" stroke-width="1" data-region="KG-GO"' in svg


def test_an_inspector_s_map_has_its_region_s_shapes_only(tmp_path: Path) -> None:
    shapes = two_regions(tmp_path)
    svg = shapes.draw({}, str, str, "Map", within="KG-GB")
    assert svg is not None and 'data-region="KG-GB"' in svg and "KG-GO" not in svg
    assert shapes.draw({}, str, str, "Map", within="KZ") is None  # nothing of its country


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ("not json {", "cannot read"),
        ({"type": "Feature"}, "not a GeoJSON FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, "no Polygon or MultiPolygon"),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    feature({"code": "KG-C"}, {"type": "Polygon", "coordinates": [["x"]]})
                ],
            },
            "not a GeoJSON polygon",
        ),
    ],
)
def test_a_file_that_is_not_region_shapes_is_refused(
    tmp_path: Path, document: object, says: str
) -> None:
    path = tmp_path / "regions.geojson"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(ValidationError, match=says):
        RegionMap.load(path)
    with pytest.raises(ValidationError, match="cannot read"):
        RegionMap.load(tmp_path / "missing.geojson")
