"""SIGINT (Ctrl-C) and SIGTERM, at any moment of a run: one line and exit 128 + the signal.

While training runs, `StopSignals` (installed by the checkpoint callback) only records the
request: the loop finishes its step, saves last.ckpt and stops; a second signal stops at once,
without saving. Before and after that (start-up, data set-up, the final grid), and in a run
that writes no checkpoints, `stop_at_once` raises `Interrupted` where the signal lands.
Neither raises KeyboardInterrupt, which Lightning would turn into its own "graceful
shutdown" message and exit code 1.
"""

import logging
import signal
import threading
from collections.abc import Callable

from gan_lightning.errors import Interrupted

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _name(signum: int) -> str:
    return signal.Signals(signum).name + (" (Ctrl-C)" if signum == signal.SIGINT else "")


def stop_at_once(situation: str = "before training started or after it ended: no training step was lost") -> None:
    """Outside the training loop: a signal stops the program where it lands (main thread only),
    with `Stopped by SIGINT (Ctrl-C) <situation>.`"""
    def handler(signum: int, frame) -> None:
        raise Interrupted(f"Stopped by {_name(signum)} {situation}.", exit_code=128 + signum)

    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, handler)


class StopSignals:
    def __init__(self) -> None:
        self.requested: int | None = None  # the signal that asked to stop
        self._previous: dict = {}
        self._forward = None
        self._kept: Callable[[], str] | None = None

    @property
    def name(self) -> str:
        return signal.Signals(self.requested).name if self.requested else "a signal"

    def install(self, forward=None, kept: Callable[[], str] | None = None) -> None:
        """Take over SIGINT/SIGTERM (main thread only); `forward(signum)` passes SIGTERM on to
        processes this one started (Lightning's `ddp` launcher's kill); `kept()` says which
        checkpoint holds the run when a second signal stops it at once."""
        if threading.current_thread() is not threading.main_thread():
            return
        from gan_lightning.cluster.slurm import stop_signals

        self.requested, self._forward, self._kept = None, forward, kept
        for signum in (*STOP_SIGNALS, *stop_signals()):  # and SLURM's time-limit warning in a SLURM job
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _on_signal(self, signum: int, frame) -> None:
        if self.requested is not None:  # asked twice: stop now, without waiting for the step or the save
            kept = self._kept() if self._kept is not None else "no checkpoint was saved"
            raise Interrupted(f"Stopped at once by a second {_name(signum)}, without saving; {kept}.",
                              exit_code=128 + signum)
        self.requested = signum
        log.warning("Received %s: saving checkpoints/last.ckpt after this step, then stopping "
                    "(a second signal stops at once, without saving).", signal.Signals(signum).name)
        if self._forward is not None and signum == signal.SIGTERM:
            # A terminal's Ctrl-C reaches the whole process group already; twice would stop them at once.
            self._forward(signum)
