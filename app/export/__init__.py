"""Exports of Satwa's findings for other tools (link charts)."""
