"""The sampling CLI's views (docs/inspection.md): interpolation, truncation, neighbours, classes,
projection, each through `python -m gan_lightning.sample` on a trained run, with their numbers
checked against what the pictures are meant to show."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_mixed_folder, run_cli

SAMPLE = "gan_lightning.sample"
TINY = ("model=gan", "net.g_hidden=[16]", "net.d_hidden=[16]", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
        "callbacks.metrics.feature=null", "trainer.enable_progress_bar=false")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A tiny run of the front door's shape (a DCGAN on digits padded to 32 pixels): (cwd, last.ckpt)."""
    cwd = tmp_path_factory.mktemp("digits")
    run_cli("net.g_features=8", "net.d_features=8", *TINY[3:], "hydra.run.dir=run", cwd=cwd)
    return cwd, cwd / "run" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def few_digits(tmp_path_factory):
    """A tiny conditional run on 1,000 of the 5,000 digits (data.limit: the rest are held out)."""
    cwd = tmp_path_factory.mktemp("few_digits")
    run_cli(*TINY, "conditional=true", "data.limit=1000", "hydra.run.dir=run", cwd=cwd)
    return cwd, cwd / "run" / "checkpoints" / "last.ckpt"


def sample(cwd, *args, check=True):
    return run_cli(*args, cwd=cwd, module=SAMPLE, check=check)


def test_interpolation_rows_end_at_their_latents_own_samples():
    from gan_lightning.sample.latents import generate, slerp

    generator = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh()).eval()
    ends = torch.randn(2, 3, 6)
    path = slerp(ends[0], ends[1], torch.linspace(0, 1, 5))
    walks = generate(generator, path.flatten(0, 1), 4).unflatten(0, (3, 5))
    torch.testing.assert_close(walks[:, 0], generate(generator, ends[0], 4), atol=1e-6, rtol=0)
    torch.testing.assert_close(walks[:, -1], generate(generator, ends[1], 4), atol=1e-6, rtol=0)
    norms = path.norm(dim=-1)  # slerp keeps the latents' norm between the ends' (a line dips toward 0)
    assert (norms >= torch.minimum(norms[:, :1], norms[:, -1:]) - 1e-5).all()


def test_interpolation_writes_the_walks_and_an_animated_gif(digits):
    cwd, ckpt = digits
    proc = sample(cwd, f"ckpt={ckpt}", "view=interpolation", "rows=3", "steps=5", "seed=1")
    assert "wrote interpolation.png (3 latent walks of 5 steps) and interpolation_walk.gif (16 frames)" in proc.stdout
    assert re.search(r"RMS pixel change per step of the latent walks: mean 0\.\d+, largest [\d.]+x the mean", proc.stdout)
    with Image.open(cwd / "interpolation_walk.gif") as gif:
        assert gif.n_frames == 16 and gif.info["loop"] == 0
    with Image.open(cwd / "interpolation.png") as picture:
        width, height = picture.size
    assert width > 5 * 64 and 3 * 64 < height < 4 * 64 + 40  # 32-pixel digits drawn at 64 pixels, a heading row
    # the first column is the first latent's own sample: the picture's tile matches G(z) drawn again
    from gan_lightning.models.checkpoint_file import load_generator

    generator, hparams = load_generator(ckpt)
    torch.manual_seed(1)
    first = generator(torch.randn(2, 3, hparams["latent_dim"])[0]).detach()
    from gan_lightning.sample.picture import GAP, TEXT

    tile = np.asarray(Image.open(cwd / "interpolation.png").convert("L"))
    top = TEXT + 6 + GAP  # below the headings
    drawn = tile[top:top + 64:2, GAP:GAP + 64:2].astype(float)  # every other pixel of the 2x enlarged tile
    assert np.abs(drawn - ((first[0, 0].numpy() + 1) * 127.5)).max() <= 1


def test_a_conditional_interpolation_also_walks_between_classes(few_digits):
    cwd, ckpt = few_digits
    proc = sample(cwd, f"ckpt={ckpt}", "view=interpolation", "rows=2", "steps=3")
    assert "(2 latent walks and 2 class walks of 3 steps)" in proc.stdout


def test_class_blends_reach_each_class_at_the_ends():
    from gan_lightning.nets import build_nets
    from gan_lightning.nets.conditional import with_class_weights

    for net in ({"name": "mlp", "g_hidden": [8], "d_hidden": [8]}, {"name": "resnet", "g_features": 8, "d_features": 8}):
        generator, _ = build_nets(net, [1, 32, 32], 4, num_classes=3)
        generator.eval()
        for module in generator.modules():  # as if trained: the classes' embeddings differ (the ResNet's start equal)
            if isinstance(module, torch.nn.Embedding):
                torch.nn.init.normal_(module.weight)
        z, labels = torch.randn(2, 4), torch.tensor([0, 2])
        one_hot = torch.nn.functional.one_hot(labels, 3).float()
        with torch.no_grad():
            torch.testing.assert_close(with_class_weights(generator, z, one_hot), generator(z, labels))
            halfway = with_class_weights(generator, z, torch.full((2, 3), 1 / 3))
        assert not torch.allclose(halfway, generator(z, labels))


def test_truncation_trades_recall_for_precision_where_the_answer_is_known():
    """A generator whose images are its latents (in a feature space that is the identity), real
    data N(0, I): truncation to psi draws N(0, psi^2 I), ever more inside the data's dense middle
    (precision rises) and ever less of its spread (recall falls). The view's own code measures it:
    the same latents at every level, the in-run metrics. (The front door's trade, from a training
    run too long for the suite: benchmarks/truncation_tradeoff.py, figures in docs/inspection.md.)"""
    from gan_lightning.metrics.quality import QualityMeter
    from gan_lightning.sample.truncation import MEASURED, measure_levels

    class Identity(torch.nn.Module):
        num_features, num_classes = 8, 8

        def forward(self, images):
            return images.flatten(1)

        def logits(self, features):
            return features

    torch.manual_seed(0)
    meter = QualityMeter(Identity(), MEASURED, batch_size=500).to("cpu")
    real = torch.randn(1000, 8)
    meter.fid.update(real, real=True)
    meter.real_features = real
    levels = (1.0, 0.7, 0.4)
    results = measure_levels(lambda z: z, levels, torch.randn(1000, 8), None, meter)
    precision, recall = [r["precision"] for r in results], [r["recall"] for r in results]
    assert precision == sorted(precision) and precision[-1] - precision[0] > 0.1, precision
    assert recall == sorted(recall, reverse=True) and recall[0] - recall[-1] > 0.3, recall
    assert results[0]["fid"] < results[1]["fid"] < results[2]["fid"]  # the data are N(0, I): psi 1 is exact


def test_the_truncation_view_writes_its_picture_curve_and_table(digits):
    cwd, ckpt = digits
    proc = sample(cwd, f"ckpt={ckpt}", "view=truncation", "truncation=1,0.5", "num_samples=100", "rows=2", "seed=0")
    table = re.findall(r"^\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", proc.stdout, re.MULTILINE)
    assert [float(row[0]) for row in table] == [1.0, 0.5]
    assert (cwd / "truncation.png").is_file() and (cwd / "truncation_curve.png").is_file()


def test_neighbours_picture_and_memorisation_numbers(digits):
    cwd, ckpt = digits
    proc = sample(cwd, f"ckpt={ckpt}", "view=neighbours", "rows=2", "k=3", "num_samples=300")
    assert "wrote neighbours.png (2 samples, each beside its 3 nearest of 5000 training images)" in proc.stdout
    assert re.search(r"copy share \d+\.\d% \(real images: 5% by construction\): no sign of copying", proc.stdout)
    assert "C_T needs real images the run did not train on (train with data.limit=N" in proc.stdout
    with Image.open(cwd / "neighbours.png") as picture:
        assert picture.size[0] > 4 * 64


def test_the_memorisation_numbers_flag_a_copier_and_pass_held_out_images(few_digits):
    from gan_lightning.sample.neighbours import memorisation_line
    from gan_lightning.sample.real_data import RunData, features_of

    cwd, ckpt = few_digits
    data = RunData(str(ckpt), "neighbours", conditional=True)
    train, heldout = data.training_images, data.heldout_images()
    assert len(train) == 1000 and len(heldout) == 4000
    extractor = data.extractor([1, 32, 32], "cpu")
    train, heldout = features_of(extractor, train, 500, "cpu"), features_of(extractor, heldout, 500, "cpu")
    copier = memorisation_line(train, train, heldout)  # a generator that returns its training images
    honest = memorisation_line(heldout[-1000:], train, heldout)  # one that draws new images of the data
    share = lambda line: float(re.search(r"copy share ([\d.]+)%", line).group(1))
    ct = lambda line: float(re.search(r"C_T ([-+][\d.]+) \(held-out real images: ([-+][\d.]+)\)", line).group(1))
    assert share(copier) == 100.0 and "copies training images" in copier and ct(copier) < -10
    assert share(honest) < 10 and "no sign of copying" in honest and abs(ct(honest)) < 3, honest


def test_classes_draws_one_labelled_row_per_class(few_digits, digits):
    cwd, ckpt = few_digits
    proc = sample(cwd, f"ckpt={ckpt}", "view=classes", "nrow=4")
    assert "wrote classes.png (10 classes, one a row, 4 samples each" in proc.stdout
    with Image.open(cwd / "classes.png") as picture:
        assert 10 * 84 < picture.size[1] < 11 * 84  # 28-pixel digits drawn 3x: 84 pixels
    cwd, ckpt = digits
    proc = sample(cwd, f"ckpt={ckpt}", "view=classes", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and not (cwd / "classes.png").exists()
    assert "was trained without conditional=true, so it has no classes to show" in proc.stderr


def test_projection_recovers_a_generated_image(digits):
    from torchvision.utils import save_image

    from gan_lightning.models.checkpoint_file import load_generator

    cwd, ckpt = digits
    generator, hparams = load_generator(ckpt)
    torch.manual_seed(5)
    with torch.no_grad():
        target, other = generator(torch.randn(2, hparams["latent_dim"]))
    save_image(target, cwd / "target.png", normalize=True, value_range=(-1, 1))
    proc = sample(cwd, f"ckpt={ckpt}", "view=projection", "image=target.png", "iterations=200", "seed=0")
    error = float(re.search(r"mean squared error ([\d.]+)", proc.stdout).group(1))
    unrelated = float((other - target).pow(2).mean())  # another sample of the same G
    assert error < 0.1 * unrelated, (error, unrelated)
    with np.load(cwd / "projection_latent.npz") as saved:
        z = torch.from_numpy(saved["z"])
    with torch.no_grad():
        assert float((generator(z[None])[0] - target).pow(2).mean()) == pytest.approx(error, abs=1e-3)


CASES = {
    "truncation above 1": (["view=truncation", "truncation=1,1.5"], "truncation=1,1.5 holds 1.5, outside (0, 1]"),
    "truncation 0": (["truncation=0"], "truncation=0 holds 0, outside (0, 1]"),
    "k beyond the data": (["view=neighbours", "rows=1", "k=5001"], ("k=5001 is more than the 5000 images the run "
                                                                    "trained on: use k=5000 or fewer")),
    "unwritable out": (["view=interpolation", "out={blocker}/x.png"], "is not a writable folder"),
    "a folder where the gif goes": (["view=interpolation", "out={tmp}/x.png"], "x_walk.gif is a folder, and out="),
    "projection without image": (["view=projection"], "view=projection needs image=PATH"),
    "image without projection": (["image=x.png"], "image=x.png is read by view=projection only"),
    "missing image": (["view=projection", "image=nowhere.png"], "image=nowhere.png does not exist"),
    "not an image": (["view=projection", "image={blocker}"], "cannot be read as an image"),
    "old mode": (["mode=interpolate"], "mode=interpolate is now view=: use view=interpolation"),
    "unknown view": (["view=knn"], "view=knn is not a view: use one of grid, interpolation"),
    "too large": (["view=interpolation", "rows=100000", "steps=10"],
                  "more than image viewers open: lower rows=100000 or steps=10 (to"),
    "a row too wide": (["view=interpolation", "rows=1", "steps=100000"],
                       "steps=100000 makes each row 100000 images wide, wider than image viewers (and JPEG) open "
                       "(65,535 pixels): use steps=989 or fewer."),
    "a grid row too wide": (["n=5000", "nrow=5000"], "nrow=5000 makes each row 5000 images wide, wider than image "
                                                     "viewers (and JPEG) open (65,535 pixels): use nrow=1919 or fewer."),
    "neighbours too wide": (["view=neighbours", "k=3000"], "k=3000 makes each row 3001 images wide, wider than image "
                                                           "viewers (and JPEG) open (65,535 pixels): use k=988 or fewer."),
    "drawn enlarged": (["view=interpolation", "rows=2500", "steps=10"], "(drawn 2x as large) would be"),
    "outside a run dir": (["view=neighbours", "ckpt={tmp}/copied.ckpt"], "is not in a run directory"),
    "a key the view does not read": (["view=interpolation", "k=3"], "k=3 is not read by view=interpolation"),
    "label on a walk": (["view=truncation", "label=3"], "label=3 is not read by view=truncation"),
    "a key twice": (["rows=2", "rows=3"], "rows= is given twice (rows=2 rows=3): give it once"),
    "an empty value": (["out="], "out= is empty: give a value, or leave the key out"),
    "a seed too large": (["seed=99999999999999999999999"], "is outside 0 .. 2**63 - 1"),
    "a device it cannot draw on": (["device=mps"], "device=mps is not one this command draws on"),
    "too few samples": (["view=truncation", "num_samples=10"], "num_samples=10 is too small: use num_samples=100"),
    "Inception's weights for a digit run": (["view=truncation", "inception_weights=/nowhere.pth"],
                                            "inception_weights=/nowhere.pth does nothing here: view=truncation "
                                            "measures this run's images with the digit classifier's features"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_views_refuse_bad_input_in_one_sentence(digits, tmp_path, case):
    _, ckpt = digits
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    (tmp_path / "copied.ckpt").write_bytes(ckpt.read_bytes())
    (tmp_path / "x_walk.gif").mkdir()
    args, message = CASES[case]
    args = [a.format(blocker=blocker, tmp=tmp_path) for a in args]
    if not any(a.startswith("ckpt=") for a in args):
        args = [f"ckpt={ckpt}", *args]
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = sample(tmp_path, *args, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "data") == before  # nothing written


def test_views_that_need_the_training_images_say_what_is_missing(tmp_path):
    # a folder streamed from disk (data.cache=false) is decoded for the comparison; Inception is offline here
    make_mixed_folder(tmp_path / "images")
    run_cli(*TINY, "data=folder", "data.root=images", "data.image_size=16", "data.batch_size=4", "hydra.run.dir=folder",
            cwd=tmp_path)
    proc = sample(tmp_path, "ckpt=folder/checkpoints/last.ckpt", "view=neighbours", "rows=2", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "view=neighbours measures these images with Inception's features; give a local copy" in proc.stderr
    assert "inception_weights=PATH" in proc.stderr and "callbacks.metrics" not in proc.stderr
