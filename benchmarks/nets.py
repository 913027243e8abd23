"""Parameters and training speed of every net, at the sizes a run uses.

    python benchmarks/nets.py                 # every case below (about 2 minutes on 2 cores)
    python benchmarks/nets.py resnet_digits32
    python benchmarks/nets.py r3gan_cifar10 --batches 3 --warmup 1    # 41M parameters: slow on a CPU

For each case: G's and D's parameter counts, and training images per second on this machine's
CPU (real images through D per second: one batch per critic step, the module's own
training_step under a Lightning Trainer, after warm-up batches). Prints one JSON line per case,
then a Markdown table.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from conftest import RandomImages  # noqa: E402  (the tests' in-memory random images)
from gan_lightning.models import DCGAN, RpGAN  # noqa: E402

R3GAN_DIGITS = {"name": "r3gan", "g_widths": [64, 64, 32, 16], "d_widths": [64, 64, 32, 16], "cardinality": [8, 8, 4, 2],
                "blocks": 1}
R3GAN_CIFAR10 = {"name": "r3gan", "g_features": 768, "d_features": 768, "blocks": 2, "expansion": 2, "cardinality": 96}
def r1_r2(gamma: float, every: int) -> dict:
    return {"r1": {"gamma": gamma, "every": every}, "r2": {"gamma": gamma, "every": every}}

# name -> (module class, net config, image shape, batch size, loss, what it is[, the module's other arguments])
CASES = {
    "mlp": (DCGAN, {"name": "mlp"}, (1, 28, 28), 64, "bce", "net=mlp (model=gan's net)"),
    "dcgan": (DCGAN, {"name": "dcgan", "g_features": 64, "d_features": 64}, (1, 28, 28), 64, "bce", "model=dcgan"),
    "dcgan_quickstart": (DCGAN, {"name": "dcgan", "g_features": 32, "d_features": 32}, (1, 28, 28), 32, "bce",
                         "the front door (model=quickstart)"),
    "dcgan_digits32": (DCGAN, {"name": "dcgan", "g_features": 32, "d_features": 32}, (1, 32, 32), 32, "bce",
                       "model=quickstart data.image_size=32"),
    "resnet_digits32": (DCGAN, {"name": "resnet", "g_features": 32, "d_features": 32, "d_norm": "none"}, (1, 32, 32),
                        32, "hinge", "net=resnet net.g_features=32 net.d_features=32 data.image_size=32"),
    "resnet_digits64": (DCGAN, {"name": "resnet", "g_features": 64, "d_features": 64, "d_norm": "none"}, (1, 32, 32),
                        32, "hinge", "net=resnet net.g_features=64 net.d_features=64 data.image_size=32"),
    "resnet_cifar10": (DCGAN, {"name": "resnet", "g_features": 256, "d_features": 128, "d_norm": "none",
                               "spectral_norm": True}, (3, 32, 32), 64, "hinge", "experiment=sngan_cifar10 (n_critic 1 here)"),
    "r3gan_digits32": (RpGAN, R3GAN_DIGITS, (1, 32, 32), 32, "relativistic", "model=r3gan (R1 + R2 every 4th step)",
                       {"reg": r1_r2(1.0, 4), "latent_dim": 64}),
    "r3gan_digits32_every_step": (RpGAN, R3GAN_DIGITS, (1, 32, 32), 32, "relativistic",
                                  "model=r3gan reg.r1.every=1 reg.r2.every=1", {"reg": r1_r2(1.0, 1), "latent_dim": 64}),
    "r3gan_cifar10": (RpGAN, R3GAN_CIFAR10, (3, 32, 32), 16, "relativistic",
                      "experiment=r3gan_cifar10 (batch 16 here, unconditional)", {"reg": r1_r2(0.05, 1), "latent_dim": 64}),
}


class Clock(L.Callback):
    """Times the batches after the first `warmup`."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end = warmup, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end = time.perf_counter()


def measure(name: str, batches: int, warmup: int) -> dict:
    cls, net, shape, batch_size, loss, what, *extra = CASES[name]
    arguments = {"latent_dim": 128 if name == "resnet_cifar10" else 100, **(extra[0] if extra else {})}
    model = cls(image_shape=shape, net=net, loss=loss, n_critic=1, **arguments)
    clock = Clock(warmup)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=1, limit_train_batches=warmup + batches, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[clock])
    trainer.fit(model, datamodule=RandomImages(n=batch_size * (warmup + batches), shape=shape, batch_size=batch_size))
    seconds = clock.end - clock.start
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    return {"case": name, "what": what, "image": "x".join(map(str, shape)), "batch": batch_size,
            "g_params": count(model.generator), "d_params": count(model.discriminator),
            "images_per_s": round(batches * batch_size / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cases", nargs="*", default=list(CASES))
    parser.add_argument("--batches", type=int, default=20, help="timed batches per case")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    for name in args.cases:
        rows.append(measure(name, args.batches, args.warmup))
        print(json.dumps(rows[-1]), flush=True)
    print(f"\nCPU, {torch.get_num_threads()} threads; one D and one G step per batch\n")
    print("| case | what | image | batch | G params | D params | training images/s |")
    print("|---|---|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['case']} | `{row['what']}` | {row['image']} | {row['batch']} | {row['g_params']:,} | "
              f"{row['d_params']:,} | {row['images_per_s']:,} |")


if __name__ == "__main__":
    main()
