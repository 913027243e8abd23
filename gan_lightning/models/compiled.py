"""Opt-in torch.compile of G's and D's forward passes (`compile=true`, `compile_mode=...`).

The compiled wrappers are kept beside the nets, not registered as submodules, so checkpoints
hold the nets' own keys (no `_orig_mod.`): a compiled run's checkpoint loads in an uncompiled
run, the sampling CLI and `load_from_checkpoint`, and a run may resume with compile switched
either way. D calls inside a penalty run eager: R1, R2 and the gradient penalty differentiate
twice, which AOTAutograd does not support (PyTorch issue 91469). Lightning's optimizer
toggling is left alone: the module itself is not compiled (Lightning #21513).
"""

import logging
import os
import shutil
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)


def missing_compiler() -> str | None:
    """Why torch.compile cannot build kernels for the CPU here (None when it can): Inductor
    compiles C++ with $CXX, g++ or clang++."""
    candidates = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "clang++", "c++"]
    if any(shutil.which(name) for name in candidates):
        return None
    return f"compile=true needs a C++ compiler ({' or '.join(candidates)}) on PATH, and there is none"


def compile_nets(nets: dict[str, Callable], mode: str | None, device_type: str = "cpu") -> dict[str, Callable]:
    """{name: compiled wrapper} for `nets` (modules or their methods), or {} (with one warning sentence) where compiling cannot work."""
    reason = missing_compiler() if device_type == "cpu" else None
    if reason is not None:
        log.warning("%s: training goes on eager (install one, e.g. apt install g++, to compile).", reason)
        return {}
    return {name: torch.compile(net, mode=mode) for name, net in nets.items()}
