"""A run's plumbing: the command line and resume, reading checkpoints, random states, signals,
the run-directory lock and reader, DDP decisions, and the one-sentence errors."""
