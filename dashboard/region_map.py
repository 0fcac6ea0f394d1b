"""A map of regions drawn as inline SVG from a GeoJSON file of region shapes (the indexer's
``PROVENANCE_INDEXER_REGIONS_GEOJSON``, read at the edge): each feature is a region named by its
ISO 3166-2 code in one of :data:`CODE_PROPERTIES`, a Polygon or MultiPolygon in longitude and
latitude. A region is shaded by its packs (darker: more), titled with its name and count, and
linked to its participants; regions without packs are drawn pale. Nothing is fetched: the
shapes are read once, and the page carries the paths."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from markupsafe import Markup, escape

from medledger.errors import ValidationError
from medledger.regions import in_region

CODE_PROPERTIES: Final = ("iso_3166_2", "ISO3166-2", "region", "code")
WIDTH: Final = 640
#: Shades from no packs to the most, light to dark (contrast with the white page).
SHADES: Final = ("#e3e6ea", "#c6d5e6", "#93b1d1", "#5a86b5", "#2d5c8f", "#14365d")

Ring = list[tuple[float, float]]


@dataclass(frozen=True)
class RegionMap:
    """Region code -> its polygons (each a list of rings of (longitude, latitude))."""

    shapes: dict[str, list[list[Ring]]]

    @classmethod
    def load(cls, path: Path) -> RegionMap:
        """The shapes in the GeoJSON file at ``path``; :class:`ValidationError` where it is not
        a FeatureCollection of coded polygons."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationError(f"cannot read the regions' GeoJSON {path}: {exc}") from exc
        features = document.get("features") if isinstance(document, dict) else None
        if not isinstance(features, list):
            raise ValidationError(f"{path} is not a GeoJSON FeatureCollection")
        shapes: dict[str, list[list[Ring]]] = {}
        try:
            for feature in features:
                code = _code(feature.get("properties") or {})
                geometry = feature.get("geometry") or {}
                if code is None or geometry.get("type") not in ("Polygon", "MultiPolygon"):
                    continue
                coordinates = geometry["coordinates"]
                polygons = [coordinates] if geometry["type"] == "Polygon" else coordinates
                shapes.setdefault(code, []).extend(
                    [[(float(x), float(y)) for x, y, *_ in ring] for ring in polygon]
                    for polygon in polygons
                )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"{path}: a feature is not a GeoJSON polygon: {exc}") from exc
        if not shapes:
            raise ValidationError(f"{path} has no Polygon or MultiPolygon with a region code")
        return cls(shapes)

    def draw(
        self,
        packs: dict[str, int],
        name: Callable[[str], str],
        url: Callable[[str], str],
        title: str,
        within: str | None = None,
    ) -> Markup | None:
        """The map as an ``<svg>`` element: each region a linked, titled, shaded path; only
        those inside ``within`` (an inspector's region) where given, None if no shape is."""
        shapes = {
            code: polygons
            for code, polygons in self.shapes.items()
            if within is None or in_region(code, within)
        }
        if not shapes:
            return None
        points = [p for polygons in shapes.values() for ring in _rings(polygons) for p in ring]
        west, east = min(x for x, _ in points), max(x for x, _ in points)
        south, north = min(y for _, y in points), max(y for _, y in points)
        stretch = math.cos(math.radians((north + south) / 2)) or 1.0  # equirectangular
        span_x = max((east - west) * stretch, 1e-9)
        scale = WIDTH / span_x
        height = max(round((north - south) * scale), 1)
        top = max(packs.values(), default=0) or 1
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'class="region-map" role="group" aria-labelledby="map-title">'
            f'<title id="map-title">{escape(title)}</title>'
        ]
        for code in sorted(shapes):
            count = packs.get(code, 0)
            shade = SHADES[0 if not count else 1 + min(4, int(4 * count / top))]
            path = " ".join(
                "M"
                + " L".join(
                    f"{(x - west) * stretch * scale:.1f},{(north - y) * scale:.1f}" for x, y in ring
                )
                + "Z"
                for ring in _rings(shapes[code])
            )
            label = escape(f"{name(code)}: {count}")
            parts.append(
                f'<a href="{escape(url(code))}" aria-label="{label}"><path d="{path}" '
                f'fill="{shade}" stroke="#fff" stroke-width="1" data-region="{escape(code)}">'
                f"<title>{label}</title></path></a>"
            )
        parts.append("</svg>")
        return Markup("".join(parts))


def _rings(polygons: Iterable[list[Ring]]) -> Iterable[Ring]:
    for polygon in polygons:
        yield from polygon


def _code(properties: dict[str, Any]) -> str | None:
    for key in CODE_PROPERTIES:
        value = properties.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().upper()
    return None
