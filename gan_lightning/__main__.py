"""`python -m gan_lightning [overrides]` trains a GAN (see README)."""

from gan_lightning.train import main

main()
