"""`python -m gan_lightning [overrides]` trains a GAN (see README)."""

from gan_lightning.train import main

# Guarded: ddp_spawn's child processes re-import this module (as __mp_main__) and must not
# start another Hydra run.
if __name__ == "__main__":
    main()
