"""A fake SLURM on one machine: what a batch job sees, and an `scontrol` that requeues.

`FakeSlurm(folder).submit(script_lines)` runs a job script as sbatch would: with the variables
SLURM sets for a one-task batch job (job id, task counts and ids, node list) and an `scontrol`
first on PATH. `scontrol requeue <job id>` records itself in scontrol.log and, as SLURM does,
starts the same script again once the job's process has ended, with the same job id and
SLURM_RESTART_COUNT one higher. Each start's output goes to job_<restart>.out and its exit code
to job_<restart>.exit.
"""

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

SCONTROL = r'''#!{python}
import os, subprocess, sys
folder = os.environ["FAKE_SLURM_DIR"]
with open(os.path.join(folder, "scontrol.log"), "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\n")
if sys.argv[1:2] == ["requeue"]:
    if sys.argv[2:3] != [os.environ["SLURM_JOB_ID"]]:
        sys.exit("scontrol: error: Invalid job id specified")
    restart = int(os.environ.get("SLURM_RESTART_COUNT") or 0) + 1
    env = {{**os.environ, "SLURM_RESTART_COUNT": str(restart)}}
    # SLURM starts the requeued job after this one ends: wait for the job's process, the caller
    subprocess.Popen([sys.executable, os.path.join(folder, "run_job.py"), str(os.getppid()), str(restart)],
                     env=env, start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
'''

RUN_JOB = r'''import os, subprocess, sys, time
folder = os.environ["FAKE_SLURM_DIR"]
waited, restart = int(sys.argv[1]), sys.argv[2]
while waited:
    try:
        os.kill(waited, 0)
    except ProcessLookupError:
        break
    time.sleep(0.1)
with open(os.path.join(folder, f"job_{restart}.out"), "w") as out:
    code = subprocess.run(["bash", os.path.join(folder, "job.sh")], stdout=out, stderr=subprocess.STDOUT).returncode
with open(os.path.join(folder, f"job_{restart}.exit"), "w") as done:
    done.write(str(code))
'''


class FakeSlurm:
    def __init__(self, folder: Path, job_id: str = "4242"):
        self.folder, self.job_id = Path(folder), job_id
        self.folder.mkdir(parents=True, exist_ok=True)
        bin_dir = self.folder / "bin"
        bin_dir.mkdir(exist_ok=True)
        scontrol = bin_dir / "scontrol"
        scontrol.write_text(SCONTROL.format(python=sys.executable))
        scontrol.chmod(scontrol.stat().st_mode | stat.S_IXUSR)
        (self.folder / "run_job.py").write_text(RUN_JOB)
        self.env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HYDRA_FULL_ERROR": "0",
                    "FAKE_SLURM_DIR": str(self.folder), "SLURM_JOB_ID": job_id, "SLURM_JOB_NAME": "gan",
                    "SLURM_NTASKS": "1", "SLURM_NTASKS_PER_NODE": "1", "SLURM_PROCID": "0", "SLURM_LOCALID": "0",
                    "SLURM_NODEID": "0", "SLURM_NNODES": "1", "SLURM_JOB_NUM_NODES": "1",
                    "SLURM_NODELIST": "localhost", "SLURM_RESTART_COUNT": "0"}

    def submit(self, *lines: str, restart: int = 0) -> None:
        """sbatch: write job.sh and start it in the background; `restart` > 0 plays SLURM requeueing a
        preempted job by itself (the same script, the same job id)."""
        (self.folder / "job.sh").write_text("\n".join(["set -e", *lines]) + "\n")
        subprocess.Popen([sys.executable, str(self.folder / "run_job.py"), "0", str(restart)],
                         env={**self.env, "SLURM_RESTART_COUNT": str(restart)}, start_new_session=True,
                         stdin=subprocess.DEVNULL)

    def wait(self, restart: int, timeout: float = 240) -> int:
        """The exit code of start number `restart` (0: the first) once it has ended."""
        done = self.folder / f"job_{restart}.exit"
        deadline = time.monotonic() + timeout
        while not done.exists():
            assert time.monotonic() < deadline, f"start {restart} of the job did not end in {timeout} s:\n{self.output()}"
            time.sleep(0.1)
        return int(done.read_text())

    def output(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.folder.glob("job_*.out")))

    def requeues(self) -> list[str]:
        log = self.folder / "scontrol.log"
        return log.read_text().splitlines() if log.exists() else []
