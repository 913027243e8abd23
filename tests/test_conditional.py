"""conditional=true: labels reach G and D, projection D, per-class sampling, folder classes,
the per-class grid and class accuracy, from Python and from the command line."""

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from conftest import DCGAN_SMALL, MLP, RandomImages, fit, read_scalars, run_cli
from gan_lightning.data import ImageFolderDataModule, MNIST5kDataModule
from gan_lightning.errors import ConfigError
from gan_lightning.metrics.quality import QualityMeter
from gan_lightning.models import DCGAN, GAN, WGANGP, RpGAN
from gan_lightning.nets import build_nets

SHAPE = (1, 28, 28)
CLASSES = 3


def conditional(cls=DCGAN, net=DCGAN_SMALL, **kwargs):
    names = [f"class{k}" for k in range(CLASSES)]
    return cls(image_shape=SHAPE, net=net, latent_dim=8, num_classes=CLASSES, class_names=names, **kwargs)


def labelled_data(n=64):
    data = RandomImages(n=n, classes=CLASSES)
    data.use_labels()
    return data


# ---- labels reach G and D; the projection ----------------------------------------------------

@pytest.mark.parametrize("net", [MLP, DCGAN_SMALL])
def test_a_label_flip_changes_d_score_and_g_image(net):
    model = conditional(net=net)
    fit(model, batches=2, datamodule=labelled_data())
    z, images = model.noise(4), torch.rand(4, *SHAPE) * 2 - 1
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    assert not torch.allclose(model.sample(noise=z, labels=zeros), model.sample(noise=z, labels=ones))
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model.critic(images, zeros), model.critic(images, zeros))
        assert (model.critic(images, zeros) - model.critic(images, ones)).abs().min() > 1e-6


@pytest.mark.parametrize("net", [MLP, DCGAN_SMALL, {**DCGAN_SMALL, "spectral_norm": True}])
def test_projection_score_is_the_unconditional_score_plus_embedding_dot_features(net):
    _, critic = build_nets(net, SHAPE, 8, num_classes=5)
    critic.eval()
    images, labels = torch.rand(6, *SHAPE) * 2 - 1, torch.tensor([0, 1, 2, 3, 4, 1])
    with torch.no_grad():
        features = critic.net.features(images).flatten(1)
        projection = (critic.embed(labels) * features).sum(1)
        assert features.shape[1] == critic.net.feature_dim
        assert torch.allclose(critic(images, labels), critic.net(images) + projection, atol=1e-5)
        assert projection.abs().min() > 0  # the class term is really there
    if net.get("spectral_norm"):  # Miyato & Koyama normalise the class embedding too
        assert torch.linalg.matrix_norm(critic.embed.weight.detach(), ord=2) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("cls, overrides", [
    (GAN, {"loss": "hinge", "reg": {"r1": {"gamma": 1.0}}, "augment": {"name": "diffaugment"}}),
    (GAN, {"loss": "least_squares", "reg": {"r2": {"gamma": 1.0}}}),
    (GAN, {"loss": "wasserstein", "reg": {"clip": {"value": 0.01}}}),
    (WGANGP, {}),
    (RpGAN, {}),
])
def test_every_loss_and_penalty_trains_the_class_weights_of_both_nets(cls, overrides):
    model = conditional(cls, {**DCGAN_SMALL, "spectral_norm": cls is GAN}, **overrides)

    def class_weights():  # G's first-layer weights on the one-hot inputs; D's projection embedding
        embed = model.discriminator.embed
        d_weight = embed.parametrizations.weight.original if cls is GAN else embed.weight
        return model.generator.net.net[0].weight[8:].detach().clone(), d_weight.detach().clone()

    before = class_weights()
    assert before[0].shape[0] == CLASSES
    trainer = fit(model, batches=5, datamodule=labelled_data(), log_every_n_steps=1)
    assert all(not torch.equal(now, then) for now, then in zip(class_weights(), before))
    assert all(torch.isfinite(p).all() for p in model.parameters())
    logged = {name for name in ("gp", "r1", "r2") if f"train/{name}" in trainer.callback_metrics}
    assert logged == {p.name for p in model.objective.penalties}


def test_sampling_draws_the_asked_classes_in_their_shapes():
    model = conditional(ema_decay=0.9)
    fit(model, batches=2, datamodule=labelled_data())
    assert model.sample(5, labels=torch.tensor([0, 2, 1, 2, 0])).shape == (5, *SHAPE)
    assert model.sample(3, labels=2).shape == (3, *SHAPE)
    assert model.sample(7).shape == (7, *SHAPE)  # uniformly random classes
    z = model.noise(1).repeat(2, 1)
    assert torch.equal(model.sample(noise=z, labels=1)[0], model.sample(noise=z, labels=1)[1])  # eval mode
    with pytest.raises(ValueError, match=r"labels must lie in 0..2 \(this model has 3 classes\), got 0..3"):
        model.sample(2, labels=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="labels must be an int or 4 integer class indices"):
        model.sample(4, labels=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="trained without conditional=true"):
        DCGAN(image_shape=SHAPE, net=DCGAN_SMALL, latent_dim=8).sample(2, labels=1)


# ---- labels from the data --------------------------------------------------------------------

def _class_folder(root, counts, loose=0):
    """root/<name>/ with `counts[name]` 8x8 grey images whose pixel value is 100 * the name's place in sorted order."""
    for name, count in counts.items():
        index = sorted(counts).index(name)
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.new("L", (8, 8), index * 100).save(root / name / f"{i}.png")
    for i in range(loose):
        Image.new("L", (8, 8), 0).save(root / f"loose{i}.png")
    return root


@pytest.mark.parametrize("cache", [False, True])
def test_folder_classes_are_the_sorted_subfolders(tmp_path, cache):
    root = _class_folder(tmp_path / "pets", {"dogs": 12, "cats": 10, "birds": 11})
    (root / "cats" / "broken.png").write_bytes(b"not a png")  # replaced by a neighbour, with its label
    data = ImageFolderDataModule(str(root), image_size=8, channels=1, batch_size=8, num_workers=0, cache=cache,
                                 cache_dir=str(tmp_path / "cache"))
    assert data.use_labels() == ["birds", "cats", "dogs"]
    data.setup("fit")
    seen = []
    for batch in data.train_dataloader():
        images, labels = data.on_after_batch_transfer(batch, 0)
        assert images.shape == (8, 1, 8, 8) and labels.dtype == torch.long
        pixel = ((images[:, 0, 0, 0] + 1) * 127.5).round()
        assert torch.equal(pixel, labels.float() * 100)  # each image came with its own folder's label
        seen += labels.tolist()
    assert set(seen) == {0, 1, 2}
    # from the cached (readable) images; streaming counts the files, the broken one too
    counts = [11, 10, 12] if cache else [11, 11, 12]
    assert data.class_frequencies().tolist() == pytest.approx([c / sum(counts) for c in counts])


@pytest.mark.parametrize("counts, loose, message", [
    ({"only": 20}, 0, "needs the images of data.root=.* sorted into one subfolder per class, at least two, "
                      "but it has 1 subfolder\\(s\\) with images: only"),
    ({"cats": 20, "dogs": 3}, 0, "Class 'dogs' .* has 3 images, fewer than the 10 a class needs"),
    ({"cats": 20, "dogs": 20}, 2, "2 images lie directly in data.root=.*outside any class subfolder"),
])
def test_badly_sorted_folders_are_one_sentence(tmp_path, counts, loose, message):
    data = ImageFolderDataModule(str(_class_folder(tmp_path / "imgs", counts, loose)), image_size=8, batch_size=4)
    with pytest.raises(ConfigError, match=message):
        data.use_labels()


def test_digits_carry_their_labels():
    data = MNIST5kDataModule(batch_size=50)
    assert data.use_labels() == [str(d) for d in range(10)]
    data.setup("fit")
    images, labels = data.on_after_batch_transfer(next(iter(data.train_dataloader())), 0)
    assert images.shape == (50, *SHAPE) and labels.shape == (50,) and labels.max() <= 9
    assert data.class_frequencies().tolist() == pytest.approx([0.1] * 10)


def test_class_accuracy_reads_the_digit_asked_for(digit_classifier):
    from gan_lightning.metrics.features import build_extractor

    images, labels = MNIST5kDataModule().labelled("test")  # 1,000 held-out digits, 100 per class
    meter = QualityMeter(build_extractor("mnist", str(digit_classifier[0]), None), kid_subset_size=100).to("cpu")
    meter.add_real(images)
    served = iter(images.split(500))

    def real_digits(n, labels):  # a "generator" that draws exactly the digits it is asked for
        return next(served).float() / 127.5 - 1

    digits = [str(d) for d in range(10)]
    right = meter.measure(real_digits, len(labels), labels, digits)["val/class_accuracy"]
    served = iter(images.split(500))
    wrong = meter.measure(real_digits, len(labels), (labels + 1) % 10, digits)["val/class_accuracy"]
    assert right > 0.9 and wrong < 0.1


# ---- from the command line -------------------------------------------------------------------

def test_conditional_run_and_sampling_by_label_from_the_cli(tmp_path):
    run = tmp_path / "run"
    run_cli("model=dcgan", "conditional=true", "net.g_features=8", "net.d_features=8", "trainer.max_epochs=1",
            "trainer.limit_train_batches=4", "callbacks.metrics.num_samples=100", f"hydra.run.dir={run}", cwd=tmp_path)
    digits = ", ".join(f"{d}: {d}" for d in range(10))
    assert f"Conditional on 10 classes (label: name): {digits}" in (run / "train.log").read_text()
    ckpt = run / "checkpoints" / "last.ckpt"
    assert torch.load(ckpt, weights_only=True)["hyper_parameters"]["class_names"] == [str(d) for d in range(10)]
    hparams = yaml.safe_load((run / "tensorboard" / "hparams.yaml").read_text())
    assert hparams["num_classes"] == 10
    scalars = read_scalars(run / "tensorboard")
    assert 0 <= scalars["val/class_accuracy"][-1][1] <= 1 and "val/fid" in scalars
    # the fixed grid: one row per digit, 8 columns of 28-pixel images with 2-pixel padding
    assert Image.open(run / "samples" / "final.png").size == (8 * 30 + 2, 10 * 30 + 2)

    run_cli(f"ckpt={ckpt}", "label=7", "n=16", "out=sevens.png", cwd=tmp_path, module="gan_lightning.sample")
    assert Image.open(tmp_path / "sevens.png").size == (4 * 30 + 2, 4 * 30 + 2)
    proc = run_cli(f"ckpt={ckpt}", "out=classes.png", cwd=tmp_path, module="gan_lightning.sample")
    assert f"rows, top to bottom: {digits}" in proc.stdout
    assert Image.open(tmp_path / "classes.png").size == (8 * 30 + 2, 10 * 30 + 2)
    run_cli(f"ckpt={ckpt}", "n=40", "out=draws.npz", cwd=tmp_path, module="gan_lightning.sample")
    with np.load(tmp_path / "draws.npz") as saved:
        assert saved["arr_0"].shape == (40, 28, 28, 1) and saved["labels"].shape == (40,)
    proc = run_cli(f"ckpt={ckpt}", "label=12", cwd=tmp_path, module="gan_lightning.sample", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "label=12 is not a class of ckpt=" in proc.stderr and "give an index 0..9 or a name" in proc.stderr

    # without Hydra: load_from_checkpoint + sample(labels=...)
    model = DCGAN.load_from_checkpoint(ckpt, weights_only=True)
    assert model.sample(6, labels=3).shape == (6, *SHAPE) and model.hparams.class_names[3] == "3"


def test_label_on_an_unconditional_checkpoint_is_one_sentence(tmp_path):
    model = GAN(image_shape=SHAPE, net=MLP, latent_dim=8)
    trainer = fit(model, batches=1)
    trainer.save_checkpoint(tmp_path / "plain.ckpt")
    proc = run_cli(f"ckpt={tmp_path / 'plain.ckpt'}", "label=3", cwd=tmp_path, module="gan_lightning.sample",
                   check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "was trained without conditional=true, so it has no classes: drop label=3" in proc.stderr


@pytest.mark.parametrize("cache", [False, True])
@pytest.mark.parametrize("conditional", [False, True])
def test_a_limited_folder_trains_on_a_class_balanced_subset_and_holds_the_rest_out(tmp_path, cache, conditional):
    root = _class_folder(tmp_path / "pets", {"dogs": 12, "cats": 10, "birds": 11})
    for i, path in enumerate(sorted(root.rglob("*.png"))):  # each image its own: its class at (0, 0), i at (7, 7)
        with Image.open(path) as image:
            image.putpixel((7, 7), i)
            image.save(path)

    def limited(seed: int) -> ImageFolderDataModule:
        torch.manual_seed(seed)
        data = ImageFolderDataModule(str(root), image_size=8, channels=1, batch_size=3, num_workers=0, cache=cache,
                                     cache_dir=str(tmp_path / "cache"), limit=9)
        if conditional:
            data.use_labels()
        data.setup("fit")
        return data

    data, again, other = limited(1), limited(1), limited(2)
    trained = data.training_images()
    classes = ((trained[:, 0, 0, 0].float()) / 100).round().long()  # each image's pixel value names its class
    assert trained.shape[0] == 9 and torch.bincount(classes).tolist() == [3, 3, 3]
    assert torch.equal(trained, again.training_images()) and not torch.equal(trained, other.training_images())
    assert data.heldout_images().shape[0] == 33 - 9 and data.heldout_images(5).shape[0] == 5
    assert data.real_images(100).shape[0] == 33  # the metrics compare against the whole folder
    batches = [data.on_after_batch_transfer(batch, 0) for batch in data.train_dataloader()]
    assert len(batches) == 3
    if conditional:  # each image still comes with its own folder's label
        for images, labels in batches:
            assert torch.equal(((images[:, 0, 0, 0] + 1) * 127.5).round(), labels.float() * 100)


def test_a_limited_folder_that_changed_since_its_run_started_is_not_resumed(tmp_path):
    root = _class_folder(tmp_path / "pets", {"dogs": 12, "cats": 10})
    run_dir = tmp_path / "run"
    common = ["model=gan", "net.g_hidden=[16]", "net.d_hidden=[16]", "data=folder", f"data.root={root}",
              "data.image_size=8", "data.channels=1", "data.num_workers=0", "data.batch_size=4",
              "callbacks.metrics.feature=null", "trainer.enable_progress_bar=false"]
    run_cli(*common, "data.limit=12", "trainer.max_epochs=1", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    Image.new("L", (8, 8), 0).save(root / "dogs" / "new.png")  # the folder grows: the subset would be drawn anew
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    proc = run_cli(f"resume={run_dir}", "trainer.max_epochs=2", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"data.root={root} is not the folder this run started on (files were added, removed or renamed since)" \
        in proc.stderr
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
    (root / "dogs" / "new.png").unlink()
    run_cli(f"resume={run_dir}", "trainer.max_epochs=2", cwd=tmp_path)  # the folder as it was: it resumes


def test_a_limited_streamed_folder_says_which_chosen_files_cannot_be_read(tmp_path, caplog):
    root = _class_folder(tmp_path / "pets", {"dogs": 12, "cats": 10})
    (root / "cats" / "broken.png").write_bytes(b"not a png")
    torch.manual_seed(0)
    data = ImageFolderDataModule(str(root), image_size=8, channels=1, batch_size=4, num_workers=0, limit=23)
    with caplog.at_level("WARNING"):
        data.setup("fit")  # 23 of the 23 files: the broken one among them
    assert "1 of the data.limit=23 files chosen cannot be read (broken.png): the run trains on 22 distinct images" \
        in caplog.text
