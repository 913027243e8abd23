"""Compare runs across seeds and sweeps: `python -m gan_lightning.compare RUNS...` (__main__.py)."""
