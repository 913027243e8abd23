"""A full disk at any write of a run: one sentence naming the file, the space there, and the
resume command only when a last.ckpt exists to resume from (through the real entry point)."""

import errno
import shlex
from pathlib import Path

from conftest import run_cli

TINY = ("model=gan", "net.g_hidden=[16]", "net.d_hidden=[16]", "data.batch_size=16", "trainer.limit_train_batches=4",
        "callbacks.metrics.feature=null", "trainer.enable_progress_bar=false")


def _line(proc) -> str:
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("gan_lightning: ")]
    return line


def test_the_first_checkpoint_on_a_full_disk_says_so_and_offers_no_resume(tmp_path, monkeypatch):
    from gan_lightning.callbacks import checkpoint

    def full(state, path):  # as torch.save's zip writer fails on a full disk
        Path(path).write_bytes(b"part of a checkpoint")
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598") from None

    monkeypatch.setattr(checkpoint, "write_checkpoint", full)
    run_dir = tmp_path / "run"
    line = _line(run_cli(*TINY, "trainer.max_epochs=2", f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False))
    assert f"Could not write {run_dir / 'checkpoints' / 'last.ckpt'} (No space left on device): it needs about" in line
    assert "MB are free on that disk; no checkpoint had been written yet. Free some space, then start the run " \
           "again." in line
    assert "resume" not in line and not list((run_dir / "checkpoints").iterdir())


def _grid_fails_at(monkeypatch, name: str) -> None:
    """Writing samples/<name> fails as a write cut short by a full disk does: an OSError naming no file."""
    real = Path.write_bytes

    def write_bytes(path, data):
        if path.name == name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def test_a_grid_on_a_full_disk_names_its_file_and_no_resume_before_a_checkpoint(tmp_path, monkeypatch):
    _grid_fails_at(monkeypatch, "epoch_0001.png")
    run_dir = tmp_path / "run"
    line = _line(run_cli(*TINY, "trainer.max_epochs=1", "callbacks.checkpoint=null", f"hydra.run.dir={run_dir}",
                         cwd=tmp_path, check=False))
    assert f"No space left on the device writing {run_dir / 'samples' / 'epoch_0001.png'} (" in line
    assert "MB free there): free some space, then start the run again (no checkpoint had been written to resume " \
           "from)." in line


def test_a_grid_on_a_full_disk_after_a_checkpoint_gives_the_resume_command(tmp_path, monkeypatch):
    _grid_fails_at(monkeypatch, "epoch_0002.png")
    run_dir = tmp_path / "run"
    line = _line(run_cli(*TINY, "trainer.max_epochs=3", f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False))
    assert f"No space left on the device writing {run_dir / 'samples' / 'epoch_0002.png'} (" in line
    assert f"continue the run with resume={shlex.quote(str(run_dir))} (its last.ckpt is kept)." in line
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
