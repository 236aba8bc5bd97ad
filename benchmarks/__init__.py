"""Benchmarks: `make bench` or `python -m benchmarks [name ...]`; tables and JSON figures."""
