"""Benchmarks (``make bench``): inputs are generated once into ``.bench/``."""
