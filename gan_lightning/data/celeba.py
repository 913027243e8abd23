"""CelebA faces (the DCGAN seed's data), from either layout people actually have.

1. torchvision's CelebA root: `img_align_celeba/` next to `list_eval_partition.txt` (in
   `data.root` or in `data.root/celeba`); the official split (`data.split`, train by default).
2. A plain folder of the extracted JPEGs (what the seed reads through ImageFolder): all of them.
"""

from pathlib import Path

from gan_lightning.data.folder import ImageFolderDataModule
from gan_lightning.data.image_files import find_images
from gan_lightning.errors import ConfigError

SPLITS = {"train": 0, "valid": 1, "test": 2}
CELEBA_PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


class CelebADataModule(ImageFolderDataModule):
    name = "CelebA"

    def __init__(self, root: str, image_size: int = 64, channels: int = 3, batch_size: int = 128,
                 split: str = "train", download: bool = False, num_workers: int | None = None,
                 cache: bool = False, cache_dir: str = "data/cache", limit: int | None = None):
        super().__init__(root, image_size, channels, batch_size, num_workers, cache, cache_dir, limit)
        if split not in (*SPLITS, "all"):
            raise ConfigError(f"data.split={split!r} is not a CelebA split: use train, valid, test or all.")
        self.split, self.download = split, download

    def class_names(self) -> list[str]:
        raise ConfigError("CelebA has no class labels here (its 40 attributes are not classes), so conditional=true "
                          "cannot be used with it: drop conditional=true, or sort the images into one subfolder per "
                          "class and use data=folder.")

    def torchvision_base(self) -> Path | None:
        """The folder holding img_align_celeba/ and list_eval_partition.txt, if that layout is used."""
        for base in (self.root, self.root / "celeba"):
            if (base / "img_align_celeba").is_dir() and (base / "list_eval_partition.txt").is_file():
                return base
        return None

    def prepare_data(self) -> None:
        if not self.download or self.torchvision_base() is not None:
            return
        from torchvision.datasets import CelebA

        try:
            CelebA(str(self.root), split="train", target_type=[], download=True)
        except Exception as err:  # no network, Google Drive quota, gdown missing, bad zip
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ConfigError(
                f"CelebA could not be downloaded into {self.root / 'celeba'} ({reason}); Google Drive quotas "
                f"are common: download img_align_celeba.zip and list_eval_partition.txt from {CELEBA_PAGE}, "
                f"extract them to {self.root / 'celeba'}/img_align_celeba/ and {self.root / 'celeba'}/, "
                f"or point data.root at any folder of the JPEGs."
            ) from err

    def list_files(self) -> list[Path]:
        base = self.torchvision_base()
        if base is None:  # layout 2: any folder of the JPEGs
            return find_images(self.root)
        partition = base / "list_eval_partition.txt"
        files = []
        for number, line in enumerate(partition.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ConfigError(f"{partition} line {number} is not '<image>.jpg <0|1|2>': {line!r}; "
                                  f"restore the file from {CELEBA_PAGE}.")
            if self.split == "all" or int(parts[1]) == SPLITS[self.split]:
                files.append(base / "img_align_celeba" / parts[0])
        if not files:
            raise ConfigError(f"{partition} lists no images for data.split={self.split}.")
        return files
