"""The checkpoint a run continues from (`resume=RUN_DIR` or `ckpt_path=`), checked before
anything trains: it must exist, be a gan_lightning checkpoint of this model and data
(run/read_checkpoint.py), and have budget left."""

from pathlib import Path

from omegaconf import DictConfig

from gan_lightning.run.errors import ConfigError
from gan_lightning.run.read_checkpoint import read_checkpoint


class Continuation:
    """The checkpoint at `path`, named on the command line by `key` (resume | ckpt_path)."""

    def __init__(self, path: str, key: str, typed: str):
        self.path, self.key, self.typed = path, key, typed
        self.checkpoint = read_checkpoint(path, key)

    @property
    def generator_steps(self) -> int:
        return self.checkpoint["state_dict"]["_extra_state"]["generator_steps"]

    def refuse_if_finished(self, cfg: DictConfig) -> None:
        """A ConfigError when the checkpoint has already used the budget this run asks for."""
        checkpoint = self.checkpoint
        state = checkpoint.get("callbacks", {}).get("RunCheckpoint")
        epochs = state["epoch"] + state["epoch_end"] if state else checkpoint.get("epoch", -1) + 1
        steps = checkpoint["state_dict"].get("_extra_state", {}).get("generator_steps", 0)
        max_epochs, max_steps = cfg.trainer.get("max_epochs"), cfg.get("max_generator_steps")
        if max_epochs not in (None, -1) and epochs >= max_epochs:
            key, budget, trained = "trainer.max_epochs", max_epochs, epochs
        elif max_steps is not None and steps >= max_steps:
            key, budget, trained = "max_generator_steps", max_steps, steps
        else:
            return
        raise ConfigError(f"{self.typed} is finished: it has trained {epochs} epochs and {steps} generator steps, "
                          f"{key}={budget} allows no more; to train on, raise it above {trained}, "
                          f"e.g. {key}={2 * trained}.")


def continuation(cfg: DictConfig) -> Continuation | None:
    """The checkpoint this run continues from, read and checked, if any."""
    if cfg.get("resume"):
        run_dir = Path(cfg.resume)
        last = run_dir / "checkpoints" / "last.ckpt"
        if not last.is_file():
            raise ConfigError(f"resume={run_dir} has no checkpoints/last.ckpt: that run stopped before its first "
                              f"checkpoint (written after each epoch); start it again without resume=.")
        return Continuation(str(last), "resume", f"resume={run_dir}")
    if cfg.get("ckpt_path") is not None:
        return Continuation(str(cfg.ckpt_path), "ckpt_path", f"ckpt_path={cfg.ckpt_path}")
    return None
