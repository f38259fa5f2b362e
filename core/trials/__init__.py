"""Trials: index configurations measured as data.

An eval set (evals.py) is a fixed set of query vectors with their exact top-k, made
against one generation of an index; a trial (run.py) builds an HNSW graph from that
generation's stored vectors with given settings and measures recall@k and latency per
ef_search through our own search path; a trial's graph can become a generation
(promote.py). An autotune (autotune.py) runs trials chosen by an optimiser and promotes
the Pareto winner (front.py). Upkeep: graphs.py keeps only the graphs worth promoting;
retrial.py re-measures the active settings when a refresh brings new rows. Rows: rows.py
(`eval_sets`, `trials` = the `_trials` system table, `retrials`).
"""
