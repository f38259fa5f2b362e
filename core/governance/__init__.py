"""Governance: column sensitivity detection (tags pii, financial, health with evidence)."""
