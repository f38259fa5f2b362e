"""The vector layer: embedders, chunking, the embedding store, index generations, search.

Embeddings are Parquet (the truth); HNSW and NumPy files beside them are rebuildable
sidecars. Each build is a generation under vectors/<index>/g<N>/; one is active.
"""
