"""Ask: plain-language questions answered from the user's own data by a local model —
NL->SQL, RAG with citations, or both — with no silent truncation anywhere."""
