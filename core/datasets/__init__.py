"""Datasets: registration, keyed mutations and the change journal."""
