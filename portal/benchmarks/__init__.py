"""The benchmark suite: a generated bank-scale data set (`bench_data`) and the measurements
that run on it (`run_benchmarks`). Everything it creates is named bench_*, so it never mixes
with real data."""
