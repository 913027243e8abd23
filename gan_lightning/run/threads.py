"""PyTorch's CPU threads on a machine shared with other work: no more than the cores this
process may use, and asleep, not spinning, while they wait when other work holds those cores.

PyTorch runs its CPU kernels on OpenMP threads (libgomp), which spin for a while at the end of
every parallel region before they sleep. On an idle machine that is what makes them fast (the
default run took 79 s; with threads that sleep at once, 119 s). Beside another CPU-bound process
a spinning thread holds a core the thread it waits for needs: the same run took 2.6x its idle
time (docs/measurements.md, "A busy machine"). So the entry point looks at the cores for a
quarter of a second before torch loads OpenMP, which reads OMP_WAIT_POLICY once: when other
processes keep them busy, the threads sleep while they wait (PASSIVE). The wait policy does not
change the arithmetic (a run computes the same numbers either way), so a seed's run stays the same
run on a busy machine; the thread count would, and depends on the machine only, never on its load.
A value of OMP_WAIT_POLICY or OMP_NUM_THREADS the user set is kept.
"""

import math
import os
import time
from pathlib import Path

# Other processes' load, in cores, from which OpenMP's threads sleep rather than spin.
BUSY_CORES = 0.5


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (taskset, a cpuset), and a cgroup's CPU
    quota (a container's --cpus), which the affinity does not show."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):  # cgroup v1, or none: the affinity alone
        pass
    return cores


def _busy_seconds(cpus: set[int]) -> float:
    """The time the CPUs `cpus` have spent busy since boot (/proc/stat: all but idle and iowait)."""
    busy = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name[3:].isdigit() and name.startswith("cpu") and int(name[3:]) in cpus:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, ticks[:8])
            busy += user + nice + system + irq + softirq + steal
    return busy / os.sysconf("SC_CLK_TCK")


def cores_busy_elsewhere(seconds: float = 0.25) -> float | None:
    """How many of this process's cores other processes keep busy, over `seconds` (None where
    /proc/stat cannot tell: not Linux)."""
    try:
        cpus = os.sched_getaffinity(0)
        start, busy, own = time.monotonic(), _busy_seconds(cpus), sum(os.times()[:2])
        time.sleep(seconds)
        busy, own = _busy_seconds(cpus) - busy, sum(os.times()[:2]) - own
    except (OSError, ValueError, AttributeError):
        return None
    return max(0.0, busy - own) / (time.monotonic() - start)


def choose_wait_policy() -> None:
    """Before torch is imported: OpenMP's threads sleep while they wait if other processes keep
    this process's cores busy (unless OMP_WAIT_POLICY is set)."""
    if "OMP_WAIT_POLICY" not in os.environ and (cores_busy_elsewhere() or 0.0) >= BUSY_CORES:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def no_more_threads_than_cores() -> None:
    """torch's threads cut to the usable cores where a CPU quota hides them (unless
    OMP_NUM_THREADS is set). Not by setting OMP_NUM_THREADS: Lightning's CPU DDP divides the
    cores between its processes only when that is unset."""
    import torch

    if "OMP_NUM_THREADS" not in os.environ and torch.get_num_threads() > usable_cores():
        torch.set_num_threads(usable_cores())
