"""The vocabulary of METRICS.md as plain Python: no I/O, no framework, no clock reads."""
