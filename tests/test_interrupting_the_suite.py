"""A developer's Ctrl-C (or a SIGTERM) ends the test suite, also while a test runs the entry
point in-process (whose own handlers take the signal as a stop of its run), and the session's
temporary folders are removed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SUITE = Path(__file__).parent / "helpers" / "interrupted_suite.py"


@pytest.mark.slow  # a real pytest process, a real signal
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_first_signal_ends_the_suite_and_cleans_up(tmp_path, signum):
    env = {**os.environ, "INTERRUPTED_SUITE_MARKERS": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", str(SUITE), "-p", "no:cacheprovider", "-q"],
                            cwd=Path(__file__).parent.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            # as a terminal starts it: a test runner in the background may ignore SIGINT
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists():  # training is under way
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.2)
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert "KeyboardInterrupt" in output and "stopped the run in this test: the suite stops" in output
    assert not (tmp_path / "second test ran").exists()
    assert not Path((tmp_path / "classifier_folder").read_text()).exists()  # atexit ran
