"""The one exception type for bad user input.

`train.main` prints its message as a single sentence and exits; nothing below it should
let a raw PyTorch or torchvision traceback reach the user for a mistake they can fix.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from omegaconf.errors import MissingMandatoryValue


class ConfigError(ValueError):
    """A bad config value, a missing data folder, or data the nets cannot handle."""


def find_config_error(exc: BaseException) -> ConfigError | None:
    """The ConfigError behind `exc`, if any (Hydra and Lightning wrap or chain exceptions)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ConfigError):
            return exc
        if isinstance(exc, MissingMandatoryValue):  # a `???` in the config, e.g. data=folder's root
            return ConfigError(f"{exc.full_key} has no value: set it on the command line, e.g. {exc.full_key}=...")
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


@contextmanager
def one_line_errors(program: str = "gan_lightning") -> Iterator[None]:
    """In an entry point: a ConfigError anywhere below becomes one line on stderr and exit code 2."""
    try:
        yield
    except Exception as exc:
        error = find_config_error(exc)
        if error is None:
            raise
        print(f"{program}: {error}", file=sys.stderr)
        sys.exit(2)
