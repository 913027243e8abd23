"""The training images of the run a checkpoint belongs to, and the metric's feature extractor:
what view=truncation and view=neighbours compare samples with. A checkpoint lies in
<run dir>/checkpoints/, and the run directory's .hydra/config.yaml says which data it trained on."""

from pathlib import Path

import torch
from torch import Tensor, nn

from gan_lightning.data import to_signed_unit
from gan_lightning.errors import ConfigError
from gan_lightning.metrics.features import build_extractor, resolve_feature


class RunData:
    """The run's datamodule (its data.limit subset as the run drew it) and feature extractor."""

    def __init__(self, ckpt: str, view: str, conditional: bool):
        from gan_lightning.run.directory import RunDir

        run_dir = Path(ckpt).expanduser().absolute().parent.parent
        if not (run_dir / ".hydra" / "config.yaml").is_file() or not (run_dir / ".hydra" / "hydra.yaml").is_file():
            raise ConfigError(f"view={view} compares samples with the run's training images, and ckpt={ckpt} is not in "
                              f"a run directory (<run dir>/checkpoints/, with <run dir>/.hydra/config.yaml): give a "
                              f"checkpoint inside the run directory that wrote it.")
        self.run, self.view = RunDir(run_dir), view
        self.datamodule = self.run.datamodule()
        if conditional:
            self.datamodule.use_labels()
        seed = self.run.config.get("seed")  # never null beside data.limit (refused when training)
        with torch.random.fork_rng():  # data.limit draws its subset from the run's seed, as training did
            torch.manual_seed(seed if seed is not None else 0)
            try:
                self.datamodule.setup("fit")
            except ConfigError as err:
                root = self.run.config.data.get("root", "?")
                raise ConfigError(f"view={view} compares samples with the images the run trained on, and they cannot "
                                  f"be read where it read them ({root}: {err}): put them back there.") from err

    def extractor(self, image_shape: list[int], device: str, inception_weights: str | None = None) -> nn.Module:
        metrics = self.run.config.get("callbacks", {}).get("metrics") or {}
        kind = resolve_feature(metrics.get("feature") or "auto", image_shape)
        if inception_weights and kind != "inception":
            raise ConfigError(f"inception_weights={inception_weights} does nothing here: view={self.view} measures "
                              f"this run's images with the digit classifier's features, as its metrics do (feature {kind}), "
                              f"not Inception's: drop it.")
        weights = inception_weights or metrics.get("inception_weights")
        try:
            return build_extractor(kind, str(self.run.classifier_path), weights,
                                   metrics.get("inception_resize", "tensorflow")).to(device)
        except ConfigError as err:
            if kind != "inception":
                raise
            reason = str(err).split("; give a local copy")[0].replace(" for FID/KID", "")
            raise ConfigError(f"{reason}: view={self.view} measures these images with Inception's features; give a "
                              f"local copy of torch-fidelity's weights-inception-2015-12-05-6726825d.pth with "
                              f"inception_weights=PATH.") from err

    @property
    def training_images(self) -> Tensor:
        """uint8 (N, C, H, W): every image the generator trained on (a folder streamed from disk is decoded)."""
        training_images = getattr(self.datamodule, "training_images", None)  # a folder (decoded if streamed)
        return training_images() if training_images is not None else self.datamodule.images

    def heldout_images(self) -> Tensor | None:
        """uint8 real images the generator never saw (data.limit's remainder), or None."""
        heldout = getattr(self.datamodule, "heldout_images", None)
        return None if heldout is None else heldout()


@torch.no_grad()
def features_of(extractor: nn.Module, images: Tensor, batch_size: int, device: str, signed: bool = False) -> Tensor:
    """The extractor's features of uint8 images (or of [-1, 1] images with `signed`), on the CPU."""
    chunks = []
    for chunk in images.split(batch_size):
        chunk = chunk.to(device)
        chunks.append(extractor(chunk.float() if signed else to_signed_unit(chunk)).float().cpu())
    return torch.cat(chunks)
