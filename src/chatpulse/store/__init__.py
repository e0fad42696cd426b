"""Storage: tables, the append-only event log, projections and migrations (SQLite or PostgreSQL)."""
