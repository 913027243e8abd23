"""A run's own plumbing: the checkpoint a resume continues, random states, signals, the
run-directory lock and reader, a refused command's undo, background writes, CPU threads."""
