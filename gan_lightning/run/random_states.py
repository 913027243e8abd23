"""Every random stream a training step draws from, captured and restored for an exact resume.

Lightning's checkpoint does not hold them; without them a resumed run draws other noise than
the run that was not interrupted. The captured form loads with torch.load(weights_only=True).
"""

import random

import numpy as np
import torch


def random_states() -> dict:
    """torch (CPU and, once used, CUDA), numpy and python's streams."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    states = {"torch": torch.get_rng_state(),
              "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                        "has_gauss": int(has_gauss), "gauss": float(gauss)},
              "python": {"version": version, "state": list(python_state), "gauss_next": gauss_next}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    numpy = states["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["gauss"]))
    python = states["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss_next"]))
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])
