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
        self.run = RunDir(run_dir)
        self.datamodule = self.run.datamodule()
        if conditional:
            self.datamodule.use_labels()
        seed = self.run.config.get("seed")
        with torch.random.fork_rng():  # data.limit draws its subset from the run's seed, as training did
            torch.manual_seed(seed if seed is not None else 0)
            self.datamodule.setup("fit")
        self.subset_known = seed is not None or self.datamodule.limit is None

    def extractor(self, image_shape: list[int], device: str) -> nn.Module:
        metrics = self.run.config.get("callbacks", {}).get("metrics") or {}
        kind = resolve_feature(metrics.get("feature") or "auto", image_shape)
        return build_extractor(kind, str(self.run.classifier_path), metrics.get("inception_weights"),
                               metrics.get("inception_resize", "tensorflow")).to(device)

    @property
    def training_images(self) -> Tensor:
        """uint8 (N, C, H, W): every image the generator trained on (a folder streamed from disk is decoded)."""
        images = getattr(self.datamodule, "images", None)
        return images if images is not None else self.datamodule.load_images()

    def heldout_images(self) -> Tensor | None:
        """uint8 real images the generator never saw (data.limit's remainder), or None."""
        return self.datamodule.heldout_images(len(self.datamodule.all_images)) if self.subset_known else None


@torch.no_grad()
def features_of(extractor: nn.Module, images: Tensor, batch_size: int, device: str, signed: bool = False) -> Tensor:
    """The extractor's features of uint8 images (or of [-1, 1] images with `signed`), on the CPU."""
    chunks = []
    for chunk in images.split(batch_size):
        chunk = chunk.to(device)
        chunks.append(extractor(chunk.float() if signed else to_signed_unit(chunk)).float().cpu())
    return torch.cat(chunks)
