from gan_lightning.sample.cli import main

main()
