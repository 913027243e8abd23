"""The command line, checked before Hydra composes anything; `resume=RUN_DIR` expanded.

`resume=RUN_DIR` continues a run in its own directory, with its own composed config. Before Hydra composes anything, `resume=RUN_DIR` on the command line is expanded into the
overrides that run was started with (its .hydra/overrides.yaml, and its Hydra overrides
but the directory), plus `hydra.run.dir=RUN_DIR`: the config is the same, and Hydra's
outputs (train.log, TensorBoard, grids, checkpoints) continue in place. Only budget keys may
change on the command line; `train` then loads RUN_DIR/checkpoints/last.ckpt.
"""

from importlib.resources import files
from pathlib import Path

from omegaconf import OmegaConf

from gan_lightning.run.errors import ConfigError

BUDGET_KEYS = ("trainer.max_epochs", "max_generator_steps")
# Overrides of the original run that a resume replaces rather than repeats.
REPLACED_KEYS = ("resume", "ckpt_path", "hydra.run.dir")


def override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def expand_resume(arguments: list[str]) -> list[str]:
    """The command-line arguments with `resume=RUN_DIR` expanded (unchanged without one)."""
    resumes = [a for a in arguments if override_key(a) == "resume"]
    if not resumes:
        return arguments
    run_dir = Path(resumes[-1].split("=", 1)[1]).expanduser().absolute()
    saved = run_dir / ".hydra"
    if not (saved / "overrides.yaml").is_file() or not (saved / "hydra.yaml").is_file():
        raise ConfigError(f"resume={run_dir} is not a run directory (it has no .hydra/overrides.yaml): give the "
                          f"folder a run wrote, e.g. resume=outputs/runs/gan-mnist5k/<time>.")
    others = [a for a in arguments if a not in resumes]
    if any(a.startswith("-") for a in others):
        raise ConfigError(f"resume= continues one run and takes no flags ({' '.join(a for a in others if a.startswith('-'))}).")
    changed = [a for a in others if override_key(a) not in BUDGET_KEYS]
    if changed:
        raise ConfigError(f"resume= continues a run with its own config; only {' and '.join(BUDGET_KEYS)} may "
                          f"change, not {' '.join(changed)}: start a new run to change anything else.")
    new_keys = {override_key(a) for a in others}
    kept = [o for o in OmegaConf.to_container(OmegaConf.load(saved / "overrides.yaml"))
            if override_key(o) not in (*REPLACED_KEYS, *new_keys)]
    hydra_overrides = OmegaConf.load(saved / "hydra.yaml").hydra.overrides.hydra
    kept += [o for o in hydra_overrides if override_key(o) not in REPLACED_KEYS
             and not override_key(o).startswith("hydra.sweep")]
    return [*kept, *others, f"hydra.run.dir={run_dir}", f"resume={run_dir}"]


def refuse_unknown_pieces(overrides: list[str]) -> None:
    """A ConfigError for a loss=, reg= or augment= name with no config file (Hydra's own message
    for a name inside a list is a search-path dump)."""
    for override in overrides:
        key, value = override_key(override), override.partition("=")[2]
        if key not in ("loss", "reg", "augment") or not value:
            continue
        known = sorted(entry.name[:-5] for entry in (files("gan_lightning.conf") / key).iterdir()
                       if entry.name.endswith(".yaml"))
        for name in (word.strip() for word in value.strip("[]").split(",")):
            if name and name not in known:
                example = f"{key}=[r1,r2]" if key == "reg" else f"{key}={known[-1]}"
                raise ConfigError(f"Unknown {key} {name!r} in {override}: use one of {', '.join(known)} "
                                  f"(e.g. {example}).")


def check_command_line(arguments: list[str]) -> list[str]:
    """The arguments Hydra gets: `resume=` expanded, unknown loss/reg/augment names refused."""
    arguments = expand_resume(arguments)
    refuse_unknown_pieces(arguments)
    return arguments
