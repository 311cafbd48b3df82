"""Benchmarks of the app's speed-critical paths (`make bench` runs them all: bench/run_all.py).

Every script here can run alone (`python bench/<script>.py [--quick]`) and exposes
`run(quick: bool) -> dict`, the result that `run_all.py` prints and writes to results.json.
"""
