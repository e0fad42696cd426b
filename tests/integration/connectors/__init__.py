"""Connectors over real HTTP, on SQLite and PostgreSQL."""
