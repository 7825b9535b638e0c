"""Benchmarks run by hand or by ``make bench-*`` from the repository root (``python -m benchmarks.<name>``)."""
