"""`python -m gan_lightning [overrides]` trains a GAN (see README)."""

# Guarded: ddp_spawn's child processes re-import this module (as __mp_main__) and must not
# start another Hydra run.
if __name__ == "__main__":
    try:  # Ctrl-C while the libraries load (several seconds): one line, not an import traceback
        from gan_lightning.train import main
    except KeyboardInterrupt:
        import sys

        print("gan_lightning: Stopped by SIGINT (Ctrl-C) while starting: nothing was written.", file=sys.stderr)
        sys.exit(130)
    main()
