"""Query: the sandboxed SQL engine, the hot cache, export and SQL history."""
