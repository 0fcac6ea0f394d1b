"""Master data (issue 17 step 2): what locations and products are, versioned and anchorable.

CBV 2.0 master data vocabulary for locations (GLN: name, address, country, ISO 3166-2
subdivision, latitude/longitude, parent site) and products (GTIN: name, dosage form, strength,
pack size, ATC code, marketing-authorisation holder), read from EPCIS 2.0 JSON-LD
(:mod:`.documents`), XML (:mod:`.xml`) and CSV (:mod:`.csv_import`). Each record
(:mod:`.record`) has an effective time and a digest of its own (``masterData;ver=CBV2.0;``
pre-hash, never an event's), anchored as a Merkle leaf of kind ``masterdata``. Who may declare
what: :mod:`.authority`. docs/masterdata.md says it all for users.
"""
