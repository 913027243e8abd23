"""What a command asks, read and checked before anything runs: the command line (resume=
expanded, unknown keys and pieces refused), the composed config, a sweep's launch."""
