"""A developer's Ctrl-C (or a SIGTERM) ends the test suite, also while a test runs the entry
point in-process (whose own handlers take the signal as a stop of its run): with pytest-xdist's
workers (the default, `-n auto`) and in one process (`-n 0`); the session's temporary folders are
removed and no test process is left behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SUITE = Path(__file__).parent / "helpers" / "interrupted_suite.py"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.slow  # a real pytest process, a real signal
@pytest.mark.parametrize("signum, workers", [(signal.SIGINT, "auto"), (signal.SIGTERM, "0"), (signal.SIGINT, "0")],
                         ids=["Ctrl-C", "SIGTERM", "Ctrl-C in one process"])
def test_the_first_signal_ends_the_suite_and_cleans_up(tmp_path, signum, workers):
    env = {**os.environ, "INTERRUPTED_SUITE_MARKERS": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", str(SUITE), "-p", "no:cacheprovider", "-q", "-n", workers],
                            cwd=Path(__file__).parent.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            # as a terminal starts it: a test runner in the background may ignore SIGINT
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 180
    while not checkpoint.exists():  # training is under way
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.2)
    if signum == signal.SIGINT:  # a terminal's Ctrl-C goes to every process of the foreground job
        os.killpg(proc.pid, signum)
    else:  # a SIGTERM (a CI job's time limit, `kill`) to pytest alone
        proc.send_signal(signum)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert "KeyboardInterrupt" in output
    assert not _alive(int((tmp_path / "training pid").read_text())), "the test process that trained lives on"
    assert not Path((tmp_path / "classifier_folder").read_text()).exists()  # atexit ran
    if workers == "0":  # one process: the in-process run's stop became the suite's, and nothing ran after it
        assert "stopped the run in this test: the suite stops" in output
        assert not (tmp_path / "second test ran").exists()
