"""`python -m gan_lightning [overrides]` trains a GAN (see README); so does `gan-lightning`."""

import os
import sys


def main() -> None:
    try:  # Ctrl-C while the libraries load (several seconds): one line, not an import traceback
        from gan_lightning.run.threads import choose_wait_policy, no_more_threads_than_cores

        choose_wait_policy()  # before torch loads OpenMP: beside busy processes, spinning threads cost 2.6x
        from gan_lightning.train import main as train
    except KeyboardInterrupt:
        print("gan_lightning: Stopped by SIGINT (Ctrl-C) while starting: nothing was written.", file=sys.stderr)
        sys.stderr.flush()
        # os._exit: an interrupt that passed through an extension's PyRun_* during import makes a
        # normal exit re-raise SIGINT (exit code -2); nothing is open that needs closing yet
        os._exit(130)
    no_more_threads_than_cores()
    train()


# Guarded: ddp_spawn's child processes re-import this module (as __mp_main__) and must not
# start another Hydra run.
if __name__ == "__main__":
    main()
