"""compile=true: G's and D's forward through torch.compile, penalties eager, checkpoints without
`_orig_mod.`, resume across compile on and off, and one sentence where compiling cannot work."""

import pytest
import torch

from conftest import read_scalars, run_cli
from gan_lightning.models.compiled import missing_compiler

TINY = ("net.g_features=4", "net.d_features=4", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
        "trainer.log_every_n_steps=1",
        "trainer.enable_progress_bar=false", "callbacks.metrics.feature=null", "data.batch_size=8")


@pytest.mark.slow  # Inductor's C++ build of G, D and D's features: one build for the whole story
@pytest.mark.skipif(missing_compiler() is not None, reason="no C++ compiler for torch.compile")
def test_a_compiled_run_with_a_penalty_features_and_labels_saves_plain_keys_and_resumes_eager(tmp_path):
    """The hooks test (tests/test_hooks.py) compiles through AOTAutograd only; this is Inductor:
    feature matching compiles D's features, R1 differentiates through D twice (eager inside)."""
    run_cli("model=feature_matching", *TINY, "reg=r1", "conditional=true", "compile=true", "hydra.run.dir=run",
            cwd=tmp_path)
    run_dir = tmp_path / "run"
    scalars = read_scalars(run_dir / "tensorboard")
    assert [step for step, _ in scalars["train/feature_gap"]] == [1, 2, 3] and len(scalars["train/r1"]) == 3
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert not any("_orig_mod" in key for key in checkpoint["state_dict"])
    # the same run continues with compile off (and the sampling CLI reads it)
    run_cli(f"resume={run_dir}", "trainer.max_epochs=2", "compile=false", cwd=tmp_path)
    resumed = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["state_dict"]["_extra_state"]["generator_steps"] == 6
    run_cli(f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", "n=4", f"out={tmp_path / 'grid.png'}", cwd=tmp_path,
            module="gan_lightning.sample")
    assert (tmp_path / "grid.png").is_file()


def test_without_a_compiler_the_run_says_so_once_and_trains_eager(tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    proc = run_cli("model=dcgan", *TINY, "compile=true", "hydra.run.dir=run", cwd=tmp_path)
    warnings = [line for line in (proc.stdout + proc.stderr).splitlines() if "needs a C++ compiler" in line]
    assert len(warnings) == 1 and "training goes on eager" in warnings[0]
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["state_dict"]["_extra_state"]["generator_steps"] == 3
