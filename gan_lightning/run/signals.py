"""SIGINT and SIGTERM ask a run to stop cleanly: the training loop finishes its step, saves,
and stops; a second signal stops at once.

`StopSignals` only records the request (a handler must not save: it can fire anywhere, even
inside a save); the checkpoint callback reads `requested` between steps.
"""

import logging
import signal
import threading

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    def __init__(self) -> None:
        self.requested: int | None = None  # the signal that asked to stop
        self._previous: dict = {}
        self._forward = None

    @property
    def name(self) -> str:
        return signal.Signals(self.requested).name if self.requested else "a signal"

    def install(self, forward=None) -> None:
        """Take over SIGINT/SIGTERM (main thread only); `forward(signum)` passes SIGTERM on to
        processes this one started (Lightning's `ddp` launcher's kill)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self.requested, self._forward = None, forward
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _on_signal(self, signum: int, frame) -> None:
        if self.requested is not None:
            raise KeyboardInterrupt  # asked twice: stop now, without waiting for the step to end
        self.requested = signum
        log.warning("Received %s: saving checkpoints/last.ckpt after this step, then stopping "
                    "(a second signal stops at once, without saving).", signal.Signals(signum).name)
        if self._forward is not None and signum == signal.SIGTERM:
            # A terminal's Ctrl-C reaches the whole process group already; twice would stop them at once.
            self._forward(signum)
