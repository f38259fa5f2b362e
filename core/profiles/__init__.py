"""Profiles: the profile model and its file, what a facade reads through as its profile
(scoped.py), their administration, and activation (switching what a session sees)."""
