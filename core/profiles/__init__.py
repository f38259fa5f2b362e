"""Profiles: the profile model and its file, and activation (switching what a session sees)."""
