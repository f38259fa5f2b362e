"""Storage: the catalog connection and its migrations, Delta tables, DuckDB connections, locks and crash recovery."""
