"""Runs on more than one process or machine: DDP's decisions, SLURM requeues, sweeps stopped and resumed."""
