"""Hydra configs, shipped inside the package so they work after a wheel install; the few
facts about them the rest of the package reads."""

from collections.abc import Mapping
from importlib.resources import files


def config_options(group: str) -> list[str]:
    """The options of config group `group`: one conf/<group>/<option>.yaml each."""
    return sorted(entry.name[:-5] for entry in (files("gan_lightning.conf") / group).iterdir()
                  if entry.name.endswith(".yaml"))


def flatten(tree, prefix: str = "") -> dict:
    """{"a.b.c": value} for every leaf of nested mappings (a composed config as one level of dotted keys)."""
    if not isinstance(tree, Mapping) or (prefix and not tree):
        return {prefix.rstrip("."): tree}
    return {key: value for name, sub in tree.items() for key, value in flatten(sub, f"{prefix}{name}.").items()}
