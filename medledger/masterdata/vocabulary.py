"""The master data vocabulary this ledger reads: CBV 2.0 attribute names and vocabulary types.

EPCIS 2.0 master data is a list of vocabularies (``{"type": <vocabulary type URI>,
"vocabularyElementList": [{"id", "attributes": [{"id", "attribute"}], "children"}]}``; in XML
``Vocabulary/@type``, ``VocabularyElement/@id``, ``attribute/@id``). Two kinds are kept:

* **locations**: the vocabulary types ``urn:epcglobal:epcis:vtype:BusinessLocation``,
  ``...:ReadPoint`` and ``...:Location``; elements named by an SGLN (``urn:epc:id:sgln:...``) or a
  GLN Digital Link (``https://id.gs1.org/414/<gln>[/254/<ext>]``);
* **products**: ``urn:epcglobal:epcis:vtype:EPCClass``; elements named by a GTIN class
  (``urn:epc:idpat:sgtin:<cp>.<ir>.*``, ``https://id.gs1.org/01/<gtin>``).

Attribute ids are CBV master data attribute names (CBV 2.0 section 10, written
``urn:epcglobal:cbv:mda#<name>``; ``urn:epcglobal:cbv:mda:<name>`` and the EPCIS context's
``cbvmda:<name>`` name the same attribute and are read as the ``#`` form), the CBV site
attributes (``urn:epcglobal:cbv:mda:site``, ``:sst``, ``:ssa``, ``:ssd``, kept in their ``:``
form) and this project's own (namespace :data:`MDA_NAMESPACE`: the ATC code, the
marketing-authorisation holder, the registration status and number, the leaflet's URL, the
regulated maximum retail price and its currency, the effective time), which CBV has no name for.
"""

from __future__ import annotations

from collections.abc import Mapping

from medledger.epcis.terms import MPL_NAMESPACE

VTYPE = "urn:epcglobal:epcis:vtype:"
BUSINESS_LOCATION = VTYPE + "BusinessLocation"
READ_POINT = VTYPE + "ReadPoint"
LOCATION = VTYPE + "Location"
EPC_CLASS = VTYPE + "EPCClass"
#: Vocabulary types read as locations / as products; any other vocabulary is passed over.
LOCATION_TYPES = (BUSINESS_LOCATION, READ_POINT, LOCATION)
PRODUCT_TYPES = (EPC_CLASS,)
KIND_LOCATION = "location"
KIND_PRODUCT = "product"


def kind_of(vocabulary_type: str) -> str | None:
    """``location``, ``product`` or None (a vocabulary this ledger does not keep)."""
    if vocabulary_type in LOCATION_TYPES:
        return KIND_LOCATION
    if vocabulary_type in PRODUCT_TYPES:
        return KIND_PRODUCT
    return None


MDA = "urn:epcglobal:cbv:mda#"
_MDA_COLON = "urn:epcglobal:cbv:mda:"
#: This project's master data attributes (no CBV name): ``<MDA_NAMESPACE>atcCode`` ...
MDA_NAMESPACE = MPL_NAMESPACE + "mda#"

# Locations (CBV 2.0 section 10: location master data).
NAME = MDA + "name"
STREET_ADDRESS = MDA + "streetAddressOne"
STREET_ADDRESS_TWO = MDA + "streetAddressTwo"
CITY = MDA + "city"
#: The state or province: here an ISO 3166-2 subdivision, as ``KG-C`` or ``C`` with countryCode
STATE = MDA + "state"
POSTAL_CODE = MDA + "postalCode"
COUNTRY_CODE = MDA + "countryCode"
LATITUDE = MDA + "latitude"
LONGITUDE = MDA + "longitude"
#: The GLN (13 digits) of the site a sub-site location belongs to (CBV 2.0 section 10.3)
SITE = _MDA_COLON + "site"
SITE_ATTRIBUTES = frozenset(_MDA_COLON + n for n in ("site", "sst", "ssa", "ssd"))

# Products (CBV 2.0 section 10: trade item master data).
REGULATED_PRODUCT_NAME = MDA + "regulatedProductName"
DESCRIPTION_SHORT = MDA + "descriptionShort"
DOSAGE_FORM = MDA + "dosageFormType"
STRENGTH = MDA + "strengthDescription"
NET_CONTENT = MDA + "netContentDescription"
MANUFACTURER = MDA + "manufacturerOfTradeItemPartyName"
#: The WHO ATC code (``J01CA04``, or a higher level such as ``J01``)
ATC_CODE = MDA_NAMESPACE + "atcCode"
#: The marketing-authorisation holder's name
MA_HOLDER = MDA_NAMESPACE + "marketingAuthorisationHolder"
#: The product's registration (marketing authorisation) status: one of :data:`REGISTRATION_STATES`
REGISTRATION_STATUS = MDA_NAMESPACE + "registrationStatus"
#: The registration (marketing authorisation) number, as the register writes it
REGISTRATION_NUMBER = MDA_NAMESPACE + "registrationNumber"
#: Where the patient leaflet is (an absolute http(s) URL)
LEAFLET_URL = MDA_NAMESPACE + "leafletURL"
#: The regulated maximum retail price of one pack (a decimal, in :data:`PRICE_CURRENCY`)
MAX_RETAIL_PRICE = MDA_NAMESPACE + "maxRetailPrice"
#: The currency of the maximum retail price (ISO 4217 alphabetic code, ``KGS``)
PRICE_CURRENCY = MDA_NAMESPACE + "priceCurrency"
REGISTRATION_STATES = ("registered", "suspended", "withdrawn", "expired")
#: When the element's attributes become true (xsd:dateTime): not an attribute of the record,
#: its effective time
EFFECTIVE_TIME = MDA_NAMESPACE + "effectiveTime"


def attribute_id(written: str, namespaces: Mapping[str, str] | None = None) -> str:
    """The canonical id of an attribute written ``written``: CBV master data names in their
    ``urn:epcglobal:cbv:mda#`` form (site attributes in their ``:`` form), a ``prefix:local``
    CURIE expanded with ``namespaces`` (a document's ``@context``), anything else as written."""
    text = written.strip()
    prefix, sep, local = text.partition(":")
    if sep and prefix == "cbvmda":
        text = _MDA_COLON + local
    elif sep and namespaces and prefix in namespaces and not local.startswith("//"):
        text = namespaces[prefix] + local
    if text.startswith(_MDA_COLON):
        if text in SITE_ATTRIBUTES:
            return text
        return MDA + text[len(_MDA_COLON) :]
    return text
