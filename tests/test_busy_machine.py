"""PyTorch's threads on a machine shared with other work: asleep while they wait when other
processes hold the cores, and no more than the cores this process may use (docs/measurements.md,
"A busy machine")."""

import os
import subprocess
import sys
from contextlib import contextmanager

import pytest

from gan_lightning.run.threads import choose_wait_policy, cores_busy_elsewhere, usable_cores


@contextmanager
def one_core_with_a_busy_neighbour():
    """This process on one core, and a CPU-bound process beside it on the same core."""
    cores = os.sched_getaffinity(0)
    core = {min(cores)}
    os.sched_setaffinity(0, core)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                               preexec_fn=lambda: os.sched_setaffinity(0, core))
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()
        os.sched_setaffinity(0, cores)


def test_the_usable_cores_follow_the_affinity():
    cores = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(cores)})
        assert usable_cores() == 1
    finally:
        os.sched_setaffinity(0, cores)
    assert 1 <= usable_cores() <= len(cores)


def test_a_busy_neighbour_is_seen_and_a_setting_of_the_users_is_kept(monkeypatch):
    with one_core_with_a_busy_neighbour():
        import time

        time.sleep(0.2)  # the neighbour has started
        assert cores_busy_elsewhere(0.5) >= 0.5
        monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
        choose_wait_policy()
        assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
        monkeypatch.delenv("OMP_WAIT_POLICY")
        choose_wait_policy()
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


@pytest.mark.slow  # a real process: OpenMP reads its settings once, as torch loads it
@pytest.mark.parametrize("typed", [None, "ACTIVE"])
def test_the_entry_point_makes_openmp_wait_asleep_beside_a_busy_process(tmp_path, typed):
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    env.update({"OMP_DISPLAY_ENV": "VERBOSE", **({"OMP_WAIT_POLICY": typed} if typed else {})})
    with one_core_with_a_busy_neighbour():  # (the entry point inherits the one core)
        proc = subprocess.Popen([sys.executable, "-m", "gan_lightning", "--help"], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:  # libgomp prints its settings as torch loads it: the rest of the start-up is not needed
            shown = ""
            for line in proc.stderr:
                shown += line
                if "OPENMP DISPLAY ENVIRONMENT END" in line:
                    break
        finally:
            proc.kill()
            proc.wait()
    assert f"OMP_WAIT_POLICY = '{typed or 'PASSIVE'}'" in shown
    assert f"GOMP_SPINCOUNT = '{0 if typed is None else 30000000000}'" in shown
