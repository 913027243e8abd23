"""`python -m gan_lightning.sample`: help without loading torch; a Ctrl-C while the libraries
load is one line and exit 130, as for training (gan_lightning/__main__.py)."""

import os
import sys

import gan_lightning.sample as package

if any(a in ("-h", "--help", "help") for a in sys.argv[1:]):
    print(package.__doc__.strip())
    sys.exit(0)
try:
    from gan_lightning.sample.cli import main
except KeyboardInterrupt:
    print("gan_lightning.sample: Stopped by SIGINT (Ctrl-C) while starting: nothing was written.", file=sys.stderr)
    sys.stderr.flush()
    os._exit(130)  # an interrupt inside an extension's import makes a normal exit re-raise SIGINT
main()
