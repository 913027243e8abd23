import logging

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_fake_celeba, make_mixed_folder, run_cli
from gan_lightning.data import CelebADataModule, ImageFolderDataModule
from gan_lightning.data.image_files import load_image
from gan_lightning.errors import ConfigError

GOOD = 20 + 2  # make_mixed_folder: 20 good files + the RGBA and grayscale ones


def _epoch(dm):
    return [dm.on_after_batch_transfer(batch, 0) for batch in dm.train_dataloader()]


def test_celeba_torchvision_layout_uses_the_official_split(tmp_path):
    base = make_fake_celeba(tmp_path, n=40)
    for root in (tmp_path, base):  # data.root may be the parent of celeba/ or celeba/ itself
        dm = CelebADataModule(root=str(root), batch_size=8, num_workers=0)
        dm.setup("fit")
        assert [p.name for p in dm.files] == [f"{i:06d}.jpg" for i in range(1, 31)]
    test = CelebADataModule(root=str(tmp_path), split="test", batch_size=2, num_workers=0)
    test.setup("fit")
    assert [p.name for p in test.files] == [f"{i:06d}.jpg" for i in range(36, 41)]


def test_celeba_plain_folder_of_jpegs_uses_them_all(tmp_path):
    base = make_fake_celeba(tmp_path, n=40)
    dm = CelebADataModule(root=str(base / "img_align_celeba"), batch_size=8, num_workers=0)
    dm.setup("fit")
    assert len(dm.files) == 40
    batches = _epoch(dm)
    assert len(batches) == 5 and all(b.shape == (8, 3, 64, 64) for b in batches)
    assert all(b.min() >= -1 and b.max() <= 1 and b.dtype == torch.float32 for b in batches)


def test_resize_then_center_crop_like_the_seed(tmp_path):
    # 100 wide x 200 high: top half red, bottom half blue -> shorter side to 64 (64x128), center crop rows 32..96
    pixels = np.zeros((200, 100, 3), np.uint8)
    pixels[:100, :, 0] = 255
    pixels[100:, :, 2] = 255
    Image.fromarray(pixels).save(tmp_path / "tall.png")
    image = load_image(tmp_path / "tall.png", 64, 3)
    assert image.shape == (3, 64, 64) and image.dtype == torch.uint8
    assert image[:, 10, 32].tolist() == [255, 0, 0] and image[:, 54, 32].tolist() == [0, 0, 255]


def test_rgba_and_grayscale_files_are_converted(tmp_path):
    special = make_mixed_folder(tmp_path)
    for path in (special["rgba"], special["gray"]):
        assert load_image(path, 32, 3).shape == (3, 32, 32)
        assert load_image(path, 32, 1).shape == (1, 32, 32)


def test_unreadable_files_are_skipped_by_name_counted_and_never_stop_an_epoch(tmp_path, caplog):
    special = make_mixed_folder(tmp_path)
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=32, batch_size=8, num_workers=0)
    dm.setup("fit")
    assert len(dm.files) == GOOD + 2  # the .txt is not an image; corrupt and truncated look like ones
    with caplog.at_level(logging.WARNING):
        for _ in range(2):  # two epochs: each bad file is reported once
            batches = _epoch(dm)
            assert len(batches) == len(dm.files) // 8 and all(b.shape == (8, 3, 32, 32) for b in batches)
    warnings = [r.getMessage() for r in caplog.records if "Skipping unreadable image" in r.getMessage()]
    assert len(warnings) == 2 and len(dm.unreadable) == 2
    assert any(str(special["corrupt"]) in w for w in warnings)
    assert any(str(special["truncated"]) in w for w in warnings)
    assert "2 skipped so far" in warnings[-1]


def test_worker_processes_decode_the_folder(tmp_path):
    make_mixed_folder(tmp_path)
    dm = ImageFolderDataModule(root=str(tmp_path), image_size=32, channels=1, batch_size=4, num_workers=2)
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert loader.num_workers == 2 and loader.persistent_workers
    batches = _epoch(dm)
    assert all(b.shape == (4, 1, 32, 32) for b in batches) and len(dm.unreadable) == 2


def test_cache_decodes_once_and_later_runs_skip_decoding(tmp_path, monkeypatch):
    data = tmp_path / "photos"
    make_mixed_folder(data)
    kwargs = dict(root=str(data), image_size=32, batch_size=8, num_workers=0, cache=True, cache_dir=str(tmp_path / "c"))
    first = ImageFolderDataModule(**kwargs)
    first.setup("fit")
    assert first.images.shape == (GOOD, 3, 32, 32) and first.images.dtype == torch.uint8
    assert len(list((tmp_path / "c").glob("*.pt"))) == 1 and len(first.unreadable) == 2

    from gan_lightning.data import folder, image_files
    monkeypatch.setattr(image_files, "load_image", lambda *a: pytest.fail("decoded although cached"))
    monkeypatch.setattr(folder, "load_image", lambda *a: pytest.fail("decoded although cached"))
    second = ImageFolderDataModule(**kwargs)
    second.setup("fit")
    assert torch.equal(second.images, first.images) and len(second.unreadable) == 2
    assert all(b.shape == (8, 3, 32, 32) for b in _epoch(second))


@pytest.mark.parametrize("setup, message", [
    (lambda p: None, "does not exist: point data.root at a folder of images"),
    (lambda p: p.mkdir(), "is empty: put images"),
    (lambda p: (p.mkdir(), (p / "a.txt").write_text("x"), (p / "b.csv").write_text("y")), "holds no images, only other files (.csv, .txt)"),
])
def test_bad_folders_are_one_clear_sentence(tmp_path, setup, message):
    root = tmp_path / "photos"
    setup(root)
    with pytest.raises(ConfigError, match=rf"data.root={root} .*") as err:
        ImageFolderDataModule(root=str(root)).setup("fit")
    assert message in str(err.value)


def test_bad_channels_and_split_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"data.channels=2 is not supported: use 1 \(grayscale\) or 3 \(RGB\)"):
        ImageFolderDataModule(root=str(tmp_path), channels=2)
    with pytest.raises(ConfigError, match="data.split='val'"):
        CelebADataModule(root=str(tmp_path), split="val")


def test_celeba_download_failure_says_what_to_place_where(tmp_path):
    dm = CelebADataModule(root=str(tmp_path), download=True)
    with pytest.raises(ConfigError, match=r"CelebA could not be downloaded into .*celeba .*img_align_celeba.zip.*list_eval_partition.txt"):
        dm.prepare_data()


def test_broken_partition_file_is_named(tmp_path):
    base = make_fake_celeba(tmp_path, n=8)
    (base / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg train\n")
    with pytest.raises(ConfigError, match=r"list_eval_partition.txt line 2 is not"):
        CelebADataModule(root=str(tmp_path)).setup("fit")


@pytest.mark.parametrize("model", ["dcgan", "wgan_gp"])
@pytest.mark.parametrize("data", ["celeba", "folder"])
def test_train_at_64x64_rgb_from_the_entry_point(tmp_path, model, data):
    if data == "celeba":
        make_fake_celeba(tmp_path / "faces")
    else:
        make_mixed_folder(tmp_path / "faces")
    run_dir = tmp_path / "run"
    proc = run_cli(f"model={model}", f"data={data}", f"data.root={tmp_path / 'faces'}", "data.batch_size=8",
                   "net.g_features=8", "net.d_features=8", "data.num_workers=1", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
                   "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    # offline: the Inception weights cannot be downloaded; the run says so and goes on without FID
    assert "No FID/KID in this run: The Inception weights for FID/KID could not be loaded" in proc.stderr + proc.stdout
    with Image.open(run_dir / "samples" / "final.png") as grid:
        assert grid.mode == "RGB" and grid.size == (8 * 64 + 9 * 2, 8 * 64 + 9 * 2)  # 8x8 grid of 3x64x64
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["hyper_parameters"]["image_shape"] == [3, 64, 64]
    assert ckpt["state_dict"]["_extra_state"]["critic_steps"] == 3
    if data == "folder":
        log = (run_dir / "train.log").read_text()
        assert "corrupt.jpg" in log and "truncated.jpg" in log


def test_folder_without_root_names_the_key(tmp_path):
    proc = run_cli("data=folder", f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "data.root" in proc.stderr
