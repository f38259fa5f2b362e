"""Trials: index configurations measured as data.

An eval set (evals.py) is a fixed set of query vectors with their exact top-k, made
against one generation of an index; a trial (run.py) builds an HNSW graph from that
generation's stored vectors with given settings and measures recall@k and latency per
ef_search through our own search path; a trial's graph can become a generation
(promote.py). Rows: rows.py (`eval_sets`, `trials` = the `_trials` system table).
"""
