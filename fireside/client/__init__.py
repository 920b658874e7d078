"""Fireside client (to come)."""
