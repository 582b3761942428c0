"""Benchmarks: `python -m bench.NAME` prints a table and writes JSON under bench/results/,
measured as ratios against a reference in the same run (these machines are noisy)."""
