"""Benchmark harness: `bench/run.sh` (see bench/README.md). A package so mypy sees one namespace."""
