"""HireBridge benchmarks: `python -m bench` runs them against the sandbox simulators and writes RESULTS.md."""
