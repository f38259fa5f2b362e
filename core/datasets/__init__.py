"""Datasets: their catalog rows (rows.py: datasets, lineage, schema versions, journal),
registration, ingest and guarded changes for a profile, keyed mutations, resync."""
