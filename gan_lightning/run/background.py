"""Writing files beside the training loop: one worker thread, one write in flight at a time.

A checkpoint or a grid is handed over as a snapshot (its tensors copied), so the loop goes on
while the worker serialises, compresses and flushes it to disk; on a small net those writes
took as long as a few training steps. A job's error is raised on the loop's thread at the
next `submit` or `wait`, so a failed write still stops the run with its own message.
"""

import threading
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor


class BackgroundWrites:
    def __init__(self, name: str):
        self.name = name
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future | None = None
        # Set by `cancel`: a job that sees it (at its commit point) leaves the old file in place.
        self.cancelled = threading.Event()

    # ddp_spawn pickles the callbacks into each process: each gets its own, idle, writer.
    def __getstate__(self) -> dict:
        return {"name": self.name}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["name"])

    def submit(self, job: Callable[[], object]) -> None:
        """Run `job()` in the worker once the previous job is done (its error is raised here)."""
        self.wait()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        self._pending = self._executor.submit(job)

    def wait(self, raise_errors: bool = True) -> None:
        """Until the job in flight is done; its error is raised (or dropped, with `raise_errors=False`)."""
        pending = self._pending
        if pending is None:
            return
        try:  # (a signal handler that waits while the loop waits sees the same job)
            if raise_errors:
                pending.result()
            else:  # the run is ending for another reason, or the error was reported already
                futures.wait([pending])
        finally:
            if self._pending is pending:
                self._pending = None

    def cancel(self) -> None:
        """Ask the job in flight not to commit (a stop without saving), and wait for it."""
        self.cancelled.set()
        self.wait(raise_errors=False)

    def close(self) -> None:
        """Wait for the job in flight (dropping its error: the run is ending) and stop the worker."""
        self.wait(raise_errors=False)
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
