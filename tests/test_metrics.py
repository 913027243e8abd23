"""FID, KID, IS, precision/recall, density/coverage; the digit classifier, EMA, the sampling CLI."""

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import MLP, fit, run_cli
from gan_lightning.data import MNIST5kDataModule, to_signed_unit, to_uint8
from gan_lightning.errors import ConfigError
from gan_lightning.metrics import QualityMeter, manifold
from gan_lightning.metrics.classifier import load_classifier
from gan_lightning.metrics.features import (
    ClassifierExtractor,
    InceptionExtractor,
    Precomputed,
    build_extractor,
    resolve_feature,
)
from gan_lightning.metrics.quality import check_metrics
from gan_lightning.models import DCGAN, GAN

RUN = ("trainer.max_epochs=1", "trainer.limit_train_batches=8", "trainer.enable_progress_bar=false",
       "callbacks.metrics.num_samples=128")


def test_the_digit_classifier_reaches_97_5_percent_on_held_out_digits(digit_classifier):
    path, accuracy = digit_classifier
    assert accuracy >= 0.975  # 98.0% measured
    # ...measured on digits it never saw, and reproducible from the saved file
    from gan_lightning.metrics.train_classifier import accuracy as measure

    images, labels = MNIST5kDataModule().labelled("test")
    train_images, _ = MNIST5kDataModule().labelled("train")
    assert len(labels) == 1000 and torch.bincount(labels).tolist() == [100] * 10
    assert not any(torch.equal(images[0], other) for other in train_images)
    assert measure(load_classifier(path), images, labels) == pytest.approx(accuracy)


def _meter(digit_classifier, real):
    meter = QualityMeter(ClassifierExtractor(load_classifier(digit_classifier[0])), kid_subset_size=200).to("cpu")
    meter.add_real(real)
    return meter


def test_fid_of_a_set_against_itself_is_zero_and_against_noise_large(digit_classifier):
    dm = MNIST5kDataModule()
    dm.setup("fit")
    real = dm.real_images(1000)  # a random choice: the file is sorted by class
    meter = _meter(digit_classifier, real)
    cursor = iter(to_signed_unit(real).split(500))
    itself = meter.measure(lambda n: next(cursor), 1000)
    noise = meter.measure(lambda n: torch.rand(n, 1, 28, 28) * 2 - 1, 1000)
    assert abs(itself["val/fid"]) < 1e-2
    assert noise["val/fid"] > 100
    # KID is unbiased: against itself it scatters around 0, far below noise's value
    assert abs(itself["val/kid"]) < 0.05 * noise["val/kid"]
    assert itself["val/class_coverage"] == 10 and itself["val/is"] > 8
    assert noise["val/is"] < 3
    # the real set against itself: every sample inside the real manifold and covering it
    assert itself["val/precision"] == itself["val/recall"] == itself["val/coverage"] == 1.0
    assert 0.8 < itself["val/density"] < 1.5
    assert noise["val/precision"] < 0.05 and noise["val/coverage"] < 0.05 and noise["val/density"] < 0.05


def test_digits_padded_to_32_pixels_are_scored_as_the_digits_themselves(digit_classifier):
    digits, padded = MNIST5kDataModule(), MNIST5kDataModule(image_size=32)
    digits.setup("fit"), padded.setup("fit")
    assert resolve_feature("auto", padded.image_shape) == "mnist"
    extractor = build_extractor("mnist", str(digit_classifier[0]), None)
    real28, real32 = to_signed_unit(digits.real_images(500)), to_signed_unit(padded.real_images(500))
    assert torch.equal(extractor(real32), extractor(real28))
    # a 32-pixel run's metrics: its real set is padded, its samples are padded; FID of the data against itself is 0
    meter = _meter(digit_classifier, padded.real_images(1000))
    cursor = iter(to_signed_unit(padded.real_images(1000)).split(500))
    itself = meter.measure(lambda n: next(cursor), 1000)
    assert abs(itself["val/fid"]) < 1e-2 and itself["val/class_coverage"] == 10


def test_one_digit_covers_one_class(digit_classifier):
    dm = MNIST5kDataModule()
    dm.setup("fit")
    (train, train_labels), (test, test_labels) = dm.labelled("train"), dm.labelled("test")
    sevens = to_signed_unit(torch.cat([train[train_labels == 7], test[test_labels == 7]]))  # all 500
    meter = _meter(digit_classifier, dm.real_images(1000))
    one_digit = meter.measure(lambda n: sevens[:n], 500)
    assert one_digit["val/class_coverage"] == 1 and one_digit["val/is"] < 1.5
    # real sevens are precise (inside the data's manifold) but recall a tenth of it at most
    assert one_digit["val/precision"] > 0.9 and one_digit["val/recall"] < 0.2 and one_digit["val/coverage"] < 0.2


def test_precision_recall_density_coverage_equal_the_prdc_package(digit_classifier):
    from prdc import compute_prdc

    dm = MNIST5kDataModule()
    dm.setup("fit")
    extractor = ClassifierExtractor(load_classifier(digit_classifier[0]))
    real = extractor(to_signed_unit(dm.real_images(1500, seed=1)))
    other = to_signed_unit(dm.real_images(1200, seed=2))
    fake = extractor(torch.cat([other[:600], other[600:] * 0.7 + torch.rand(600, 1, 28, 28) * 0.3]))  # half spoilt
    assert max(real.shape[0], fake.shape[0]) > manifold.BLOCK  # several blocks of rows
    for k in (3, 5):
        ours = manifold.precision_recall_density_coverage(real, fake, k, k)
        reference = compute_prdc(real.double().numpy(), fake.double().numpy(), nearest_k=k)
        assert ours == pytest.approx(reference, abs=1e-9)
        assert all(0 < ours[name] < 1 for name in ("precision", "recall", "coverage"))  # neither trivial end


@pytest.mark.filterwarnings("ignore:Metric `InceptionScore` will save all extracted features")
def test_inception_score_reads_the_digit_classifier_logits_as_torchmetrics_does(digit_classifier):
    from torchmetrics.image.inception import InceptionScore

    dm = MNIST5kDataModule()
    dm.setup("fit")
    real = dm.real_images(600)
    meter = QualityMeter(ClassifierExtractor(load_classifier(digit_classifier[0])), metrics=("fid", "is"),
                         kid_subset_size=100).to("cpu")
    meter.add_real(real)
    cursor = iter(to_signed_unit(real).split(500))
    torch.manual_seed(0)
    values = meter.measure(lambda n: next(cursor), 600)
    assert set(values) == {"val/fid", "val/is", "val/is_std", "val/class_coverage", "val/feature_spread"}  # as chosen
    assert values["val/feature_spread"] == pytest.approx(1.0)  # the real images themselves: their own variety
    reference = InceptionScore(feature=Precomputed(10), splits=10)
    reference.update(meter.extractor.logits(meter.extractor(to_signed_unit(real))))
    torch.manual_seed(0)  # the same split of the samples
    score, spread = reference.compute()
    assert values["val/is"] == pytest.approx(float(score)) and values["val/is_std"] == pytest.approx(float(spread))


def test_unknown_or_unmeasurable_metric_choices_are_one_sentence():
    with pytest.raises(ConfigError, match=r"Unknown metric 'fd' in callbacks.metrics.metrics: choose from fid, kid"):
        check_metrics(["fid", "fd"], 2000)
    with pytest.raises(ConfigError, match=r"leaves out fid"):
        check_metrics(["is"], 2000)
    with pytest.raises(ConfigError, match=r"num_samples=12 gives fewer than 2 a group"):
        check_metrics(["fid", "is"], 12)
    with pytest.raises(ConfigError, match=r"5th nearest neighbour, so callbacks.metrics.num_samples=5 is too few"):
        check_metrics(["fid", "coverage"], 5)
    assert check_metrics("fid", 5) == ("fid",)


def test_missing_or_foreign_classifier_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="No MNIST classifier at .*train_classifier data=mnist5k"):
        load_classifier(tmp_path / "none.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="is not a classifier written by gan_lightning"):
        load_classifier(tmp_path / "other.pt")


def test_offline_inception_is_one_sentence_and_a_local_file_works(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"Inception weights for FID/KID could not be loaded .*inception_weights=PATH"):
        build_extractor("inception", None, None)
    # A local weights file (here random weights with the real layout) is read instead of the download.
    import torch_fidelity.feature_extractor_inceptionv3 as tf_inception

    monkeypatch.setattr(tf_inception, "load_state_dict_from_url", lambda *a, **k: {})
    monkeypatch.setattr(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
    skeleton = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    monkeypatch.undo()
    torch.save(skeleton.state_dict(), tmp_path / "inception.pth")
    extractor = InceptionExtractor(str(tmp_path / "inception.pth"))
    images = torch.rand(3, 1, 32, 32) * 2 - 1
    features = extractor(images)
    assert features.shape == (3, 2048)
    # the Inception Score's logits come from the same features: torch-fidelity's logits_unbiased, no second pass
    from torchmetrics.image.fid import NoTrainInceptionV3

    both = NoTrainInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"], str(tmp_path / "inception.pth"),
                              antialias=False)
    pool, logits = both._torch_fidelity_forward(to_uint8(images).expand(-1, 3, -1, -1))
    assert torch.allclose(features, pool) and torch.allclose(extractor.logits(features), logits, atol=1e-4)
    # published FIDs resize as TensorFlow 1 did: the default; torchmetrics' antialiasing gives other features
    assert not extractor.net.use_antialias
    antialiased = InceptionExtractor(str(tmp_path / "inception.pth"), resize="antialias")
    assert not torch.allclose(antialiased(images), features, rtol=1e-3, atol=0)
    with pytest.raises(ConfigError, match="inception_resize='bicubic': use tensorflow"):
        build_extractor("inception", None, str(tmp_path / "inception.pth"), "bicubic")


def test_an_evaluation_is_on_disk_before_the_epoch_ends(tmp_path):
    """A stop during the epoch's checkpoint (Ctrl-C) must not lose the evaluation just made."""
    from helpers.probes import EvaluationsOnDisk

    EvaluationsOnDisk.seen = []
    run_cli(*RUN, "trainer.max_epochs=2", "callbacks.metrics.every_n_epochs=1", "hydra.run.dir=run",
            "+callbacks.probe._target_=helpers.probes.EvaluationsOnDisk", cwd=tmp_path)
    assert EvaluationsOnDisk.seen == [[8], [8, 16]]


def test_explicit_inception_offline_stops_the_run(tmp_path):
    proc = run_cli("callbacks.metrics.feature=inception", *RUN, f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path,
                   check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "Inception weights for FID/KID could not be loaded" in proc.stderr


def test_ema_trails_the_generator_and_is_used_for_samples():
    model = GAN(image_shape=[1, 28, 28], net=MLP, latent_dim=8, ema_decay=0.9)
    start = copy.deepcopy(model.generator_ema.state_dict())
    fit(model, batches=6)
    g, ema = model.generator.state_dict(), model.generator_ema.state_dict()
    weights = [k for k in g if k.endswith("weight")]
    assert all(not torch.equal(ema[k], g[k]) and not torch.equal(ema[k], start[k]) for k in weights)
    assert not any(p.requires_grad for p in model.generator_ema.parameters())
    z = torch.randn(4, 8)
    model.generator_ema.eval()
    assert torch.equal(model.sample(noise=z), model.generator_ema(z))


def test_ema_batchnorm_statistics_belong_to_the_averaged_weights():
    model = DCGAN(image_shape=[1, 28, 28], net={"name": "dcgan", "g_features": 8, "d_features": 8}, latent_dim=8,
                  ema_decay=0.9)
    fit(model, batches=6)
    assert model.ema.stale
    rng_before = torch.get_rng_state()
    model.refresh_ema_statistics()
    assert torch.equal(torch.get_rng_state(), rng_before)  # training's random stream is left alone
    model.ema.stale = True
    model.sample(4)  # reading the EMA refreshes its statistics
    assert not model.ema.stale
    first_norm = model.generator_ema.net[1]
    # what the EMA weights' first layer really produces, over plenty of noise
    with torch.no_grad():
        activations = model.generator_ema.net[0](torch.randn(4096, 8, 1, 1))
    assert torch.allclose(first_norm.running_mean, activations.mean((0, 2, 3)), atol=0.05)
    assert not torch.allclose(first_norm.running_mean, model.generator.net[1].running_mean, atol=1e-3)


def test_best_checkpoint_holds_the_ema_weights(tmp_path):
    run_dir = tmp_path / "run"
    run_cli("experiment=dcgan_ema", "net.g_features=8", "net.d_features=8", *RUN, f"hydra.run.dir={run_dir}",
            cwd=tmp_path)
    state = torch.load(run_dir / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    ema = {k: v for k, v in state.items() if k.startswith("generator_ema.")}
    assert ema and any(not torch.equal(v, state[k.replace("generator_ema.", "generator.", 1)]) for k, v in ema.items())


def test_sampling_cli_grid_interpolation_npz_and_refusals(tmp_path):
    run_dir = tmp_path / "run"
    run_cli("model=dcgan", "net.g_features=8", "net.d_features=8", *RUN, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    ckpt = run_dir / "checkpoints" / "best.ckpt"

    run_cli(f"ckpt={ckpt}", "n=64", "out=grid.png", "seed=3", cwd=tmp_path, module="gan_lightning.sample")
    with Image.open(tmp_path / "grid.png") as grid:
        grid.load()
        assert grid.size == (8 * 28 + 9 * 2, 8 * 28 + 9 * 2)
    run_cli(f"ckpt={ckpt}", "n=64", "out=again.png", "seed=3", cwd=tmp_path, module="gan_lightning.sample")
    assert (tmp_path / "grid.png").read_bytes() == (tmp_path / "again.png").read_bytes()  # seed reproduces

    run_cli(f"ckpt={ckpt}", "view=interpolation", "rows=3", "steps=5", "out=interp.png", cwd=tmp_path,
            module="gan_lightning.sample")
    assert (tmp_path / "interp.png").is_file() and (tmp_path / "interp_walk.gif").is_file()  # tests/test_inspection.py

    run_cli(f"ckpt={ckpt}", "n=1000", "out=samples.npz", "device=cpu", cwd=tmp_path, module="gan_lightning.sample")
    pixels = np.load(tmp_path / "samples.npz")["arr_0"]
    assert pixels.shape == (1000, 28, 28, 1) and pixels.dtype == np.uint8 and pixels.max() > 0

    (tmp_path / "notes.txt").write_text("not a checkpoint")
    torch.save({"state_dict": {"w": torch.zeros(1)}}, tmp_path / "foreign.ckpt")
    for path, reason in ((tmp_path / "notes.txt", "PyTorch cannot read it as one"),
                         (tmp_path / "foreign.ckpt", "no generator weights")):
        proc = run_cli(f"ckpt={path}", cwd=tmp_path, module="gan_lightning.sample", check=False)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert f"{path} is not a gan_lightning checkpoint: " in proc.stderr and reason in proc.stderr
    proc = run_cli(f"ckpt={ckpt}", "n=many", cwd=tmp_path, module="gan_lightning.sample", check=False)
    assert "n='many' is not a valid integer" in proc.stderr


def test_load_from_checkpoint_samples_with_ema(tmp_path):
    model = DCGAN(image_shape=[1, 28, 28], net={"name": "dcgan", "g_features": 8, "d_features": 8}, latent_dim=8,
                  ema_decay=0.99)
    trainer = fit(model, batches=3)
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    loaded = DCGAN.load_from_checkpoint(tmp_path / "m.ckpt", weights_only=True)
    assert torch.equal(loaded.generator_ema.net[0].weight, model.generator_ema.net[0].weight)
    assert loaded.sample(5).shape == (5, 1, 28, 28)
