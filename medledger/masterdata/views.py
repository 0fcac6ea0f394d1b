"""What a record says of a location or a product, as typed fields (for stores and pages)."""

from __future__ import annotations

from dataclasses import dataclass

from medledger.epcis.digital_link import gln_of, gtin_of

from . import vocabulary as v
from .record import MasterDataRecord


@dataclass(frozen=True)
class Location:
    element_id: str  # https://id.gs1.org/414/<gln>[/254/<ext>]
    gln: str
    name: str | None
    street_address: str | None
    city: str | None
    postal_code: str | None
    country_code: str | None
    #: ISO 3166-2 subdivision (``KG-C``): the location's region
    subdivision: str | None
    latitude: str | None
    longitude: str | None
    #: the GLN of the site it belongs to (``cbv:mda:site``)
    parent_site: str | None

    @property
    def region(self) -> str | None:
        """The subdivision, else the country: what "stock by region" groups by."""
        return self.subdivision or self.country_code


@dataclass(frozen=True)
class Product:
    element_id: str  # https://id.gs1.org/01/<gtin>
    gtin: str
    #: regulatedProductName, else descriptionShort
    name: str | None
    dosage_form: str | None
    strength: str | None
    net_content: str | None  # the pack size, as described
    atc_code: str | None
    ma_holder: str | None
    manufacturer: str | None
    #: registered, suspended, withdrawn, expired (None: not said)
    registration_status: str | None = None
    registration_number: str | None = None
    leaflet_url: str | None = None
    #: the regulated maximum retail price of a pack, a decimal as text, in ``price_currency``
    max_retail_price: str | None = None
    price_currency: str | None = None


def location(record: MasterDataRecord) -> Location:
    """The location a (location) record describes."""
    gln = gln_of(record.element_id)
    assert gln is not None and record.kind == v.KIND_LOCATION
    return Location(
        element_id=record.element_id,
        gln=gln,
        name=record.text(v.NAME),
        street_address=record.text(v.STREET_ADDRESS),
        city=record.text(v.CITY),
        postal_code=record.text(v.POSTAL_CODE),
        country_code=record.text(v.COUNTRY_CODE),
        subdivision=record.text(v.STATE),
        latitude=record.text(v.LATITUDE),
        longitude=record.text(v.LONGITUDE),
        parent_site=record.text(v.SITE),
    )


def product(record: MasterDataRecord) -> Product:
    """The product a (product) record describes."""
    gtin = gtin_of(record.element_id)
    assert gtin is not None and record.kind == v.KIND_PRODUCT
    return Product(
        element_id=record.element_id,
        gtin=gtin,
        name=record.text(v.REGULATED_PRODUCT_NAME) or record.text(v.DESCRIPTION_SHORT),
        dosage_form=record.text(v.DOSAGE_FORM),
        strength=record.text(v.STRENGTH),
        net_content=record.text(v.NET_CONTENT),
        atc_code=record.text(v.ATC_CODE),
        ma_holder=record.text(v.MA_HOLDER),
        manufacturer=record.text(v.MANUFACTURER),
        registration_status=record.text(v.REGISTRATION_STATUS),
        registration_number=record.text(v.REGISTRATION_NUMBER),
        leaflet_url=record.text(v.LEAFLET_URL),
        max_retail_price=record.text(v.MAX_RETAIL_PRICE),
        price_currency=record.text(v.PRICE_CURRENCY),
    )
