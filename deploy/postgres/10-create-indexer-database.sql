-- Runs once, when the postgres volume is first initialised: the gateway uses POSTGRES_DB
-- ("gateway"); the indexer keeps its own database on the same server.
CREATE DATABASE indexer OWNER provenance;
