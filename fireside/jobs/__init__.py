"""Fireside jobs (to come)."""
