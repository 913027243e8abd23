"""The README and docs/ stay true: their pages are linked, the paths they name exist, their
commands compose, and the variant example trains with every loss."""

import re
import shlex
from pathlib import Path

import pytest
import torch
import yaml

from conftest import read_scalars, run_cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = {path.name: path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))}
PAGES = {"README.md": README, **{f"docs/{name}": text for name, text in DOCS.items()}}
EXAMPLES = {"instance_noise", "minimax", "toy"}
LOSSES = ["bce", "wasserstein", "hinge", "least_squares", "relativistic"]


def _block(text: str, first_line: str) -> str:
    match = re.search(r"```(?:python|yaml)\n(" + re.escape(first_line) + r"\n.*?)```", text, re.DOTALL)
    assert match, f"no code block starting with {first_line!r}"
    return match.group(1)


def _commands(text: str) -> list[str]:
    """Every `python -m gan_lightning ...` line of the page's bash blocks (continuations joined,
    comments dropped)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("python -m gan_lightning "):
                commands.append(line)
    return commands


def test_every_docs_page_is_linked_from_the_readme_and_every_link_resolves():
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)\)", README))
    assert linked == {f"docs/{name}" for name in DOCS}
    for page, text in PAGES.items():
        for target in re.findall(r"\]\(([\w./-]+\.md)\)", text):
            assert (ROOT / Path(page).parent / target).is_file(), f"{page} links to a missing {target}"


def test_every_source_path_the_docs_name_exists():
    for page, text in PAGES.items():
        for path in set(re.findall(r"\b((?:gan_lightning|tests|benchmarks|notebooks)/[\w/]+\.(?:py|yaml|ipynb))", text)):
            if Path(path).stem in EXAMPLES:  # a file the docs show how to write
                continue
            assert (ROOT / path).exists(), f"{page} names {path}, which does not exist"


COMMANDS = sorted({(page, command) for page, text in PAGES.items() for command in _commands(text)
                   if not any(mark in command for mark in ("<", "...", "/path", "~"))})


@pytest.mark.parametrize("page, command", COMMANDS, ids=[f"{p}:{c[24:70]}" for p, c in COMMANDS])
def test_each_documented_training_command_composes(tmp_path, page, command):
    arguments = shlex.split(command)[3:]
    if arguments and arguments[0] in ("-m", "--multirun"):  # a sweep: compose one job of it
        arguments = [re.sub(r"=([^,\[\]]+),\S+$", r"=\1", a) for a in arguments[1:]]
    finished = run_cli(*[a for a in arguments if a != "--cfg" and a != "job"], "--cfg", "job", cwd=tmp_path,
                       check=False)
    assert finished.returncode == 0, f"{page}: {command}\n{finished.stderr[-2000:]}"
    composed = yaml.safe_load(finished.stdout)
    assert {"model", "net", "data", "trainer", "loss"} <= set(composed)


def test_the_variant_example_trains_with_every_loss_and_records_it(tmp_path, monkeypatch):
    text = DOCS["extending.md"]
    code = _block(text, "# gan_lightning/models/instance_noise.py")
    config = _block(text, "# gan_lightning/conf/model/instance_noise.yaml")
    # The user's files outside the package: a module on the path, a config folder on Hydra's search path.
    (tmp_path / "instance_noise.py").write_text(code)
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "instance_noise.yaml").write_text(
        config.replace("gan_lightning.models.instance_noise.", "instance_noise."))
    monkeypatch.syspath_prepend(str(tmp_path))
    run_cli("-m", "model=instance_noise", f"loss={','.join(LOSSES)}", f"hydra.searchpath=[file://{tmp_path / 'conf'}]",
            "net.g_features=8", "net.d_features=8", "trainer.max_epochs=1", "trainer.limit_train_batches=4",
            "trainer.log_every_n_steps=1", "callbacks.metrics.feature=null", "model.noise_steps=3",
            f"hydra.sweep.dir={tmp_path / 'sweep'}", "hydra.sweep.subdir=${loss.name}", cwd=tmp_path)
    for loss in LOSSES:
        run_dir = tmp_path / "sweep" / loss
        checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
        hparams = checkpoint["hyper_parameters"]
        assert (hparams["loss"], hparams["noise_std"], hparams["noise_steps"]) == (loss, 0.1, 3)
        assert checkpoint["state_dict"]["_extra_state"] == {"critic_steps": 4, "generator_steps": 4}
        assert len(read_scalars(run_dir / "tensorboard")["train/loss_g"]) == 4


def test_every_picture_the_docs_show_exists():
    for page, text in PAGES.items():
        for target in re.findall(r"!\[[^\]]*\]\(([\w./-]+)\)", text):
            assert (ROOT / Path(page).parent / target).is_file(), f"{page} shows a missing {target}"


def test_each_documented_sampling_command_is_accepted():
    from gan_lightning.sample.arguments import parse_args

    commands = [line.split("  #")[0].strip() for text in PAGES.values()
                for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL) for line in block.splitlines()
                if line.startswith("python -m gan_lightning.sample ")]
    assert len(commands) >= 12
    for command in commands:
        args = parse_args(shlex.split(command)[3:])
        assert args["view"] in command or args["view"] == "grid", command
