"""The README's "Adding a variant" example works as written."""

import re
from pathlib import Path

import torch

from conftest import read_scalars, run_cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _block(first_line: str) -> str:
    match = re.search(r"```(?:python|yaml)\n(" + re.escape(first_line) + r"\n.*?)```", README, re.S)
    assert match, f"README block starting with {first_line!r} is missing"
    return match.group(1)


def test_the_readme_lsgan_variant_trains(tmp_path, monkeypatch):
    code = _block("# gan_lightning/models/lsgan.py")
    yaml = _block("# gan_lightning/conf/model/lsgan.yaml")
    # Put the user's files outside the package: a module on PYTHONPATH, a config dir on the search path.
    (tmp_path / "lsgan.py").write_text(code)
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "lsgan.yaml").write_text(
        yaml.replace("gan_lightning.models.lsgan.LSGAN", "lsgan.LSGAN"))

    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    run_dir = tmp_path / "run"
    run_cli("model=lsgan", f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "trainer.max_epochs=1",
            "trainer.limit_train_batches=6", "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false",
            "callbacks.metrics.num_samples=128",
            f"hydra.run.dir={run_dir}", cwd=tmp_path)

    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["state_dict"]["_extra_state"] == {"critic_steps": 6, "generator_steps": 6}
    assert ckpt["hyper_parameters"]["net"]["name"] == "dcgan"
    loss_g = read_scalars(run_dir / "tensorboard")["train/loss_g"]
    # least-squares G loss 0.5 * E[(D(G(z)) - 1)^2]: non-negative, and not BCE's value
    assert len(loss_g) == 6 and all(v >= 0 for _, v in loss_g)
