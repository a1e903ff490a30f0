"""Load generator and benchmarks for Roost; every figure is reported next to a baseline
measured in the same run."""
