"""Errors that reach the user as one sentence, never as a traceback.

`ConfigError` is bad input a user can fix (exit code 2). `RunStopped` is a run that stopped
on purpose part-way (a signal, a diverged loss) with its own exit code. The entry points
(`one_line_errors`) print the message on one line, also into the run's
train.log, and exit. Here at the package root, so the core (models, nets, data, ...) raises
them without importing the run's plumbing.
"""

import errno
import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from omegaconf import ListConfig
from omegaconf.errors import MissingMandatoryValue


class OneLineError(Exception):
    """An error whose message is the whole story: printed alone, without a traceback; `note`
    is added after it (where a sweep's jobs stand)."""

    exit_code = 2
    note = ""


def as_typed(value) -> str:
    """`value` spelled as on the command line: null, true, [true, 2], 'text'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple, ListConfig)):
        return "[" + ", ".join(as_typed(item) for item in value) + "]"
    return repr(value)


class ConfigError(OneLineError, ValueError):
    """A bad config value, a missing data folder, or data the nets cannot handle."""


class RunStopped(OneLineError):
    """A run stopped before its budget, with its checkpoint saved (a signal, divergence)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class WriteFailed(OneLineError):
    """A file the run needs could not be written (a full disk, a quota)."""

    exit_code = 1


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM where no checkpoint can be saved first (start-up, a second signal).

    A BaseException, like KeyboardInterrupt, so that no `except Exception` on the way (Hydra
    turns those into exit code 1) swallows it; unlike KeyboardInterrupt, Lightning passes it on.
    """

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


def require_number(key: str, value, low: float = 0.0, high: float | None = None, integer: bool = False,
                   low_allowed: bool = False, example: float | None = None) -> None:
    """A ConfigError naming `key` unless `value` is a number above `low` (or equal to it if
    `low_allowed`) and below `high` (an int if `integer`)."""
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        example = example if example is not None else 1 if integer else 0.0002
        raise ConfigError(f"{key}={value!r} is not {'an integer' if integer else 'a number'}: "
                          f"set it to one, e.g. {key}={example}.")
    if not (value >= low if low_allowed else value > low) or (high is not None and not value < high):
        if high is not None:
            bounds = f"lie in {'[' if low_allowed else '('}{low}, {high})"
        else:
            bounds = "be a non-negative number" if low_allowed and low == 0 else "be positive"
        fix = f", e.g. {key}={example}" if example is not None else ""
        raise ConfigError(f"{key}={value} must {bounds}{fix}.")


class Diverged(RunStopped):
    """A loss or D's scores became NaN or infinite; `kept` says which checkpoint is still good."""

    def __init__(self, value: str, step: int):
        super().__init__(f"{value} became NaN or infinite at generator step {step}", exit_code=3)
        self.kept = "no checkpoint had been written yet"

    def __str__(self) -> str:
        return f"Training diverged: {self.args[0]}; {self.kept}. Lower model.lr, or add a penalty."


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions behind it, outermost first (Hydra and Lightning wrap or chain them)."""
    chain = []
    while exc is not None and all(exc is not seen for seen in chain):
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def find_one_line_error(exc: BaseException) -> OneLineError | None:
    """The OneLineError behind `exc`, if any."""
    for exc in _chain(exc):
        if isinstance(exc, OneLineError):
            return exc
        if isinstance(exc, MissingMandatoryValue):  # a `???` in the config, e.g. data=folder's root
            return ConfigError(f"{exc.full_key} has no value: set it on the command line, e.g. {exc.full_key}=...")
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return _disk_full(exc)
    return None


def _disk_full(exc: OSError) -> WriteFailed:
    """A full disk: the file (else the run directory), the space left there, and the resume
    command only where the run has a last.ckpt to resume from."""
    import shlex
    import shutil
    from pathlib import Path

    from hydra.core.hydra_config import HydraConfig

    run_dir = Path(HydraConfig.get().runtime.output_dir) if HydraConfig.initialized() else None
    target = Path(exc.filename) if exc.filename else run_dir
    where = f" writing {exc.filename}" if exc.filename else f" writing into {run_dir}" if run_dir else ""
    folder = next((p for p in ([target, *target.parents] if target else []) if p.is_dir()), None)
    free = f" ({shutil.disk_usage(folder).free / 1e6:.1f} MB free there)" if folder else ""
    if run_dir is None:
        then = "run the command again"
    elif (run_dir / "checkpoints" / "last.ckpt").is_file():
        then = f"continue the run with resume={shlex.quote(str(run_dir))} (its last.ckpt is kept)"
    else:
        then = "start the run again (no checkpoint had been written to resume from)"
    return WriteFailed(f"No space left on the device{where}{free}: free some space, then {then}.")


def unbuildable_config(exc: BaseException) -> ConfigError | None:
    """A config entry Hydra could not instantiate (a target that does not import, a value the
    library rejects, e.g. trainer.precision=8-bit), as one sentence: the entry, the library's
    own reason, and that it is a config value to change."""
    from hydra.errors import InstantiationException

    chain = _chain(exc)
    if not any(isinstance(e, InstantiationException) for e in chain):
        return None
    outer = next(e for e in chain if isinstance(e, InstantiationException))
    cause = chain[-1] if chain[-1] is not outer else None
    key = next((line.split(":", 1)[1].strip() for line in str(outer).splitlines() if line.startswith("full_key:")), "")
    reason = f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}" if cause else \
        str(outer).splitlines()[0]
    if isinstance(cause, ImportError) or "Error locating target" in str(outer):
        return ConfigError(f"The {key or 'config'} target cannot be imported ({reason}): check its _target_, and "
                           f"that its module is on PYTHONPATH.")
    return ConfigError(f"The {key or 'config'} settings are not accepted ({reason}): change the {key or 'config'}.* "
                       f"value it names.")


def write_to_log_files(message: str) -> None:
    """`message` into the log files only (a run's train.log); the console gets it on stderr."""
    record = logging.LogRecord("gan_lightning", logging.ERROR, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


@contextmanager
def one_line_errors(program: str = "gan_lightning", undo_refused_run: Callable[[], bool] = lambda: False
                    ) -> Iterator[None]:
    """In an entry point: a OneLineError anywhere below becomes one line on stderr and its exit
    code. A refusal (ConfigError) before training is undone by `undo_refused_run` (True when it
    put the run directory back as it was); any other error is kept in the run's train.log, a
    crash with its traceback."""
    try:
        yield
    except Interrupted as interrupted:
        if not undo_refused_run():  # stopped before training started: like a refusal, nothing is left
            write_to_log_files(str(interrupted))
        print(f"{program}: {interrupted}", file=sys.stderr)
        sys.exit(interrupted.exit_code)
    except Exception as exc:
        error = find_one_line_error(exc) or unbuildable_config(exc)
        if error is None:
            write_to_log_files("".join(traceback.format_exception(exc)).rstrip())
            raise
        message = f"{error}{error.note}"
        if not (isinstance(error, ConfigError) and undo_refused_run()):
            write_to_log_files(message)
        print(f"{program}: {message}", file=sys.stderr)
        sys.exit(error.exit_code)
