"""Bad input at the real entry points: one sentence naming the value and the fix, exit code 2,
no traceback, and nothing written: a refused run leaves no run directory."""

import os

import pytest
import torch

from conftest import make_fake_celeba, make_mixed_folder, run_cli

QUICK = ("trainer.max_epochs=1", "trainer.limit_train_batches=2", "callbacks.metrics.feature=null",
         "trainer.enable_progress_bar=false")


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    """A finished tiny DCGAN run on mnist5k (1x28x28): its directory."""
    cwd = tmp_path_factory.mktemp("dcgan")
    run_cli("model=dcgan", "net.g_features=8", "net.d_features=8", *QUICK, "hydra.run.dir=run", cwd=cwd)
    return cwd / "run"


def _bad_checkpoints(root, dcgan_run):
    text = root / "notes.ckpt"
    text.write_text("not a checkpoint\n")
    truncated = root / "truncated.ckpt"
    data = (dcgan_run / "checkpoints" / "last.ckpt").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    return text, truncated


def _images(root, n=20):
    import numpy as np
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root / f"{i}.png")
    return root


CASES = {
    "text file": (lambda t, run: [f"ckpt_path={_bad_checkpoints(t, run)[0]}"], "is not a gan_lightning checkpoint"),
    "truncated": (lambda t, run: [f"ckpt_path={_bad_checkpoints(t, run)[1]}"], "is not a gan_lightning checkpoint"),
    "directory": (lambda t, run: [f"ckpt_path={run}"], "is a directory: give a checkpoint file in it"),
    "other net": (lambda t, run: ["model=gan", f"ckpt_path={run / 'checkpoints/last.ckpt'}"],
                  "holds DCGAN with net=dcgan on 1x28x28 images of mnist5k, but this run is GAN with net=mlp"),
    "other variant": (lambda t, run: ["model=wgan", "net.g_features=8", "net.d_features=8",
                                      f"ckpt_path={run / 'checkpoints/last.ckpt'}"],
                      "holds DCGAN with net=dcgan on 1x28x28 images of mnist5k, but this run is WGAN with net=dcgan"),
    "other image size": (lambda t, run: ["model=dcgan", "net.g_features=8", "net.d_features=8", "data=folder",
                                         f"data.root={_images(t / 'imgs')}", "data.image_size=32", "data.channels=1",
                                         "data.batch_size=4", f"ckpt_path={run / 'checkpoints/last.ckpt'}"],
                         "but this run is DCGAN with net=dcgan on 1x32x32 images of the image folder"),
    "seed": (lambda t, run: ["seed=abc"], "seed='abc' is not an integer: use e.g. seed=42"),
    "lr": (lambda t, run: ["model.lr=abc"], "model.lr='abc' is not a number"),
    "not a run directory": (lambda t, run: [f"resume={t}"], "is not a run directory"),
    "a piece twice": (lambda t, run: ["reg=[r1,lecam,lecam]"], "reg=[r1,lecam,lecam] names lecam twice: name each "
                                                             "piece once, e.g. reg=[r1,lecam]."),
    "corrupt folder": (lambda t, run: ["model=dcgan", "data=folder", f"data.root={_corrupt_folder(t)}",
                                       "data.image_size=32", "data.batch_size=2", "data.num_workers=1"],
                       "None of the 3 image files tried in data.root="),
    "unknown loss": (lambda t, run: ["loss=focal"], "Unknown loss 'focal' in loss=focal: use one of bce, hinge"),
    "unknown reg in a list": (lambda t, run: ["reg=[r1,r3]"], "Unknown reg 'r3' in reg=[r1,r3]: use one of apa, clip, gp, lecam"),
    "unknown augment": (lambda t, run: ["augment=mixup"], "Unknown augment 'mixup' in augment=mixup"),
    "negative weight": (lambda t, run: ["reg=r1", "reg.gamma=-1"], "reg.r1.gamma=-1 must be a non-negative number"),
    "policy word": (lambda t, run: ["augment=diffaugment", "augment.policy=[color,flip]"],
                    "augment.policy=[color,flip] has unknown word 'flip': use a list of color, translation, cutout"),
    "clip with a penalty": (lambda t, run: ["reg=[clip,gp]"], "reg=clip cannot be combined with gp"),
    "conditional not a bool": (lambda t, run: ["conditional=yes"], "conditional='yes' must be true or false."),
    "conditional unsorted folder": (lambda t, run: ["model=dcgan", "data=folder", f"data.root={_images(t / 'flat')}",
                                                    "data.image_size=32", "conditional=true"],
                                    "conditional=true needs the images of data.root="),
    "conditional celeba": (lambda t, run: ["data=celeba", f"data.root={make_fake_celeba(t)}", "conditional=true"],
                           "CelebA has no class labels here"),
    # each of these was a traceback once
    "batch of one with BatchNorm": (lambda t, run: ["model=gan", "data.batch_size=1"],
                                    "data.batch_size=1 is too small for the BatchNorm layers of net=mlp"),
    "zero width": (lambda t, run: ["model=dcgan", "net.g_features=0"], "net.g_features=0 must be a positive whole number"),
    "zero logging interval": (lambda t, run: ["trainer.log_every_n_steps=0"],
                              "trainer.log_every_n_steps=0 must be positive"),
    "negative workers": (lambda t, run: ["data=folder", f"data.root={_images(t / 'w')}", "data.num_workers=-1"],
                         "data.num_workers=-1 must be 0"),
    "unwritable cache": (lambda t, run: ["data=folder", f"data.root={_images(t / 'c')}", "data.image_size=32",
                                         "data.cache=true", f"data.cache_dir={_a_file(t) / 'cache'}"],
                         "cannot be written"),
    "negative seed": (lambda t, run: ["seed=-1"], "seed=-1 is out of range: use an integer from 0 to 4294967295"),
    "no epochs": (lambda t, run: ["trainer.max_epochs=0"], "trainer.max_epochs=0 must be positive"),
    "no budget": (lambda t, run: ["trainer.max_epochs=-1"], "trainer.max_epochs=-1 sets no budget"),
    # experiment=few_images chooses reg=[apa,lecam], a list: its entries' keys are this run's
    "a key of a preset's list": (lambda t, run: ["experiment=few_images", "reg.apa.targt=0.5"],
                                 "reg.apa.targt=0.5: reg.apa has no key 'targt' (its keys: interval, kimg, p, target)."),
    "a value of a preset's list": (lambda t, run: ["experiment=few_images", "reg.lecam.gamma=-1"],
                                   "reg.lecam.gamma=-1 must be a non-negative number, e.g. reg.lecam.gamma=0.3."),
    "no duration": (lambda t, run: ["experiment=digits_8min", "trainer.max_time=8"],
                    "trainer.max_time=8 is not a duration: use DD:HH:MM:SS, e.g. trainer.max_time=00:00:08:00"),
    "a net's unknown key": (lambda t, run: ["net.depth=4"], "net.depth=4: net=dcgan has no key 'depth' (its keys:"),
    # the net the model preset chooses (model=gan -> net=mlp), though the default preset's net has the key
    "a key of another preset's net": (lambda t, run: ["model=gan", "net.g_features=4"],
                                      "net.g_features=4: net.g_features is not in this run, because net=mlp leaves "
                                      "it out: choose it with net=dcgan or net=r3gan or net=resnet instead."),
    "a key of an augment not chosen": (lambda t, run: ["augment.kimg=10"], "augment.kimg=10: augment.kimg is not in "
                                       "this run, because augment=none leaves it out: choose it with augment=ada "
                                       "instead."),
    "a digit size": (lambda t, run: ["data.image_size=64"], "data.image_size=64: MNIST digits are 28 pixels"),
    "resnet at 28 pixels": (lambda t, run: ["model=dcgan", "net=resnet"], "set data.image_size=32, which pads digits"),
    "huge images": (lambda t, run: ["model=dcgan", "data=folder", f"data.root={_images(t / 'h')}",
                                    "data.image_size=4096"], "use data.image_size=256 or smaller"),
    "unquoted non-ASCII path": (lambda t, run: ["data=folder", "data.root=/data/my photos ü"],
                                "cannot be read as key=value: quote the value"),
    "a key nothing reads": (lambda t, run: ["+lr=1e-3"], "did you mean model.lr=1e-3?"),
    # schedules (models/schedule.py)
    "unknown schedule": (lambda t, run: ["schedule.lr=linear"], "Unknown schedule.lr=linear: use one of constant, cosine"),
    "unschedulable key": (lambda t, run: ["schedule.beta1=cosine"],
                          "beta1 cannot be scheduled: the keys that can are augment_p, beta2, ema_half_life, gamma, lr"),
    "schedule without its end": (lambda t, run: ["schedule.beta2=cosine"],
                                 "schedule.beta2=cosine needs the value model.beta2 ends at: add schedule.final.beta2=0.99"),
    "schedule of no penalty": (lambda t, run: ["schedule.gamma=cosine"],
                               "schedule.gamma=cosine schedules the penalties' gamma, and this run has none"),
    "schedule of no augmentation": (lambda t, run: ["schedule.augment_p=cosine", "schedule.final.augment_p=0.5"],
                                    "augment=none has none: add augment=diffaugment"),
    "beta2 of RMSprop": (lambda t, run: ["model=wgan", "schedule.beta2=cosine", "schedule.final.beta2=0.99"],
                         "model.optimizer=rmsprop has none"),
    "schedule over a wall clock": (lambda t, run: ["schedule.lr=cosine", "trainer.max_epochs=-1",
                                                   "+trainer.max_time=00:00:01:00"],
                                   "trainer.max_time alone gives none: set schedule.steps=N"),
    "a final value of a constant key": (lambda t, run: ["schedule.final.lr=0.1"],
                                         "schedule.final.lr=0.1 changes nothing while schedule.lr is constant: add "
                                         "schedule.lr=cosine"),
    "negative warm-up": (lambda t, run: ["schedule.lr=cosine", "schedule.warmup=-1"],
                         "schedule.warmup=-1 must be a non-negative number, e.g. schedule.warmup=100."),
    "a Trainer argument without its plus": (lambda t, run: ["trainer.max_time=00:00:01:00"],
                                            "another argument of lightning.Trainer is added with a plus: +trainer.max_time=00:00:01:00"),
    "augmentation probability": (lambda t, run: ["augment=diffaugment", "augment.p=2"],
                                 "augment.p=2 is a probability: use a number in [0, 1]"),
    "two EMA paces": (lambda t, run: ["model.ema_decay=0.999", "model.ema_half_life=10000"],
                      "both set the EMA's pace: keep one"),
    "r3gan's cardinality": (lambda t, run: ["model=r3gan", "net.cardinality=3"], "net.cardinality=3 does not divide"),
    "compile not a bool": (lambda t, run: ["compile=yes"], "compile='yes' must be true or false."),
    "channels_last not a bool": (lambda t, run: ["channels_last=1"], "channels_last=1 must be true or false."),
    "a plus on a key that is there": (lambda t, run: ["+channels_last=true"],
                                      "+channels_last=true adds channels_last, which is there already: set it "
                                      "without the plus, channels_last=true."),
    "channels_last null": (lambda t, run: ["channels_last=null"], "channels_last=null must be true or false."),
    "channels_last quoted": (lambda t, run: ["channels_last='true'"],
                             "channels_last='true' must be true or false (without quotes: quoted, it is text)."),
    "unknown compile mode": (lambda t, run: ["compile=true", "compile_mode=fast"],
                             "compile_mode='fast' is not a torch.compile mode: use one of default, reduce-overhead"),
    # metrics (metrics/quality.py)
    "unknown metric": (lambda t, run: ["callbacks.metrics.metrics=[fid,inception_score]"],
                       "Unknown metric 'inception_score' in callbacks.metrics.metrics: choose from fid, kid, is"),
    "metrics without fid": (lambda t, run: ["callbacks.metrics.metrics=[is,precision]"], "leaves out fid"),
    "unknown resize": (lambda t, run: ["callbacks.metrics.inception_resize=bicubic"],
                       "inception_resize='bicubic': use tensorflow"),
    "zero neighbours": (lambda t, run: ["callbacks.metrics.precision_recall_k=0"],
                        "callbacks.metrics.precision_recall_k=0 must be positive, e.g. callbacks.metrics.precision_recall_k=3"),
    # issue 36: the newer corners
    "an unreachable tracking server": (lambda t, run: ["logger=mlflow", "logger.mlflow.tracking_uri=http://127.0.0.1:9"],
                                       "logger.mlflow.tracking_uri=http://127.0.0.1:9 does not answer within 5 s"),
    "a key of a logger not chosen": (lambda t, run: ["logger=none", "logger.tensorboard.foo=1"],
                                     "logger.tensorboard.foo=1: logger.tensorboard is not in this run, because "
                                     "logger=none leaves it out: choose it with logger=tensorboard instead."),
    "a compile mode without compile": (lambda t, run: ["compile_mode=max-autotune"],
                                       "compile_mode=max-autotune does nothing without compile=true: add compile=true"),
    "a KID subset larger than the samples": (lambda t, run: ["callbacks.metrics.metrics=[fid,kid]",
                                                             "callbacks.metrics.kid_subset_size=5000"],
                                             "callbacks.metrics.kid_subset_size=5000 is more than the 2000 samples "
                                             "drawn (callbacks.metrics.num_samples=2000)"),
    "a sample count in words": (lambda t, run: ["callbacks.metrics.num_samples=lots"],
                                "callbacks.metrics.num_samples='lots' is not an integer: set it to one, e.g. "
                                "callbacks.metrics.num_samples=2000."),
    "an unknown monitor": (lambda t, run: ["callbacks.metrics.metrics=[fid,kid]",
                                           "callbacks.checkpoint.monitor=val/foo"],
                           "callbacks.checkpoint.monitor=val/foo is not a metric best.ckpt can keep the lowest of: "
                           "this run measures val/fid and val/kid"),
    "a monitor with the metrics off": (lambda t, run: ["callbacks.checkpoint.monitor=val/kid"],
                                       "callbacks.checkpoint.monitor=val/kid needs the metrics, and "
                                       "callbacks.metrics.feature=null turns them off"),
    "a grid of no columns": (lambda t, run: ["callbacks.sample_grid.nrow=0"],
                             "callbacks.sample_grid.nrow=0 must be positive, e.g. callbacks.sample_grid.nrow=8."),
    "the SLURM launcher without -m": (lambda t, run: ["hydra/launcher=slurm"],
                                      "hydra/launcher=slurm submits the jobs of a sweep, and without -m this command "
                                      "would train here instead: add -m"),
    "a damaged overrides.yaml": (lambda t, run: [f"resume={_damaged_copy(t, run)}"],
                                 "/.hydra/overrides.yaml line 3 cannot be read ("),
    "a callback's unknown key": (lambda t, run: ["callbacks.metrics.foo=1"],
                                 "callbacks.metrics.foo=1: callbacks.metrics has no key 'foo' (its keys: _target_, "
                                 "classifier_path,"),
    # issue 36: a new user's 119 further tries
    "a misspelt key of a listed reg": (lambda t, run: ["reg=[r1,apa]", "reg.apa.targt=0.5"],
                                       "reg.apa.targt=0.5: reg.apa has no key 'targt' (its keys: interval, kimg, p, "
                                       "target)."),
    "an entry the reg list leaves out": (lambda t, run: ["reg=[r1,apa]", "reg.lecam.gamma=1"],
                                         "reg.lecam.gamma=1: reg=[r1,apa] has no key 'lecam' (its keys: apa, every, "
                                         "gamma, r1)."),
    "a shorthand one listed reg has": (lambda t, run: ["reg=[lecam,apa]", "reg.gamma=0.5"],
                                       "reg.gamma=0.5 is ambiguous with 2 reg entries: set it per entry, e.g. "
                                       "reg.lecam.gamma=0.5."),
    "a key of a callback switched off": (lambda t, run: ["callbacks.health=null", "callbacks.health.on_alarm=stop"],
                                         "callbacks.health.on_alarm=stop sets a key of callbacks.health, and "
                                         "callbacks.health=null switches callbacks.health off: drop one of the two."),
    "a FID threshold with the metrics off": (lambda t, run: ["callbacks.health.fid_rise=0.5"],
                                             "callbacks.health.fid_rise=0.5 does nothing in this run: its alarm reads "
                                             "the metrics' evaluations, and callbacks.metrics.feature=null turns them off"),
    "an overfitting threshold without held-out images": (
        lambda t, run: ["callbacks.health.overfit_accuracy=0.6"],
        "callbacks.health.overfit_accuracy=0.6 does nothing in this run: its alarm reads real images D never trains "
        "on, and only data.limit=N holds some out: add data.limit=N, or drop it."),
    "a net the model's preset does not fit": (lambda t, run: ["model=r3gan", "net=mlp"],
                                              "net=mlp: model=r3gan sets net keys (blocks, cardinality, d_widths, "
                                              "g_widths) for net=r3gan, which net=mlp does not have: drop net=mlp"),
    "an absurd learning rate": (lambda t, run: ["model.lr=1e6"],
                                "model.lr=1000000.0 is far above any GAN's learning rate (1e-5 to about 5e-3"),
}
if not torch.cuda.is_available():
    CASES["gpu without one"] = (lambda t, run: ["trainer=gpu"], "needs a CUDA GPU, and PyTorch sees none")


def _damaged_copy(root, run):
    """A copy of `run`'s saved config whose overrides.yaml has a line edited badly by hand."""
    import shutil

    copy = root / "damaged"
    shutil.copytree(run / ".hydra", copy / ".hydra")
    lines = (copy / ".hydra" / "overrides.yaml").read_text().splitlines()
    lines.insert(2, "- model.lr: [0.1")
    (copy / ".hydra" / "overrides.yaml").write_text("\n".join(lines) + "\n")
    return copy


def _a_file(root):
    (root / "a_file").write_text("")
    return root / "a_file"


def _corrupt_folder(root):
    folder = root / "corrupt"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.jpg").write_bytes(b"not a jpeg" * 20)
    return folder


@pytest.mark.parametrize("case", list(CASES))
def test_bad_training_input_is_one_sentence(tmp_path, dcgan_run, case):
    make_overrides, message = CASES[case]
    run_dir = tmp_path / "run"
    overrides = make_overrides(tmp_path, dcgan_run)
    # the metric list is checked only with metrics on (QUICK turns them off)
    quick = [o for o in QUICK if not (o.startswith("callbacks.metrics.feature")
                                      and any(x.startswith("callbacks.metrics.metrics") for x in overrides))]
    proc = run_cli(*quick, *overrides, f"hydra.run.dir={run_dir}", cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout and "weights_only=False" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("gan_lightning: ")]
    assert len(lines) == 1 and message in lines[0], proc.stderr[-2000:]
    assert not run_dir.exists()  # a refused run writes nothing: no run directory, no train.log


def test_a_wall_clock_budget_alone_is_a_budget(tmp_path):
    run_dir = tmp_path / "run"
    run_cli(*QUICK, "trainer.max_epochs=-1", "+trainer.max_time=00:00:00:02", f"hydra.run.dir={run_dir}",
            cwd=tmp_path)
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]["_extra_state"][
        "generator_steps"] > 0


@pytest.mark.parametrize("case", ["directory", "cuda", "unwritable out", "help", "too many"])
def test_the_sampling_cli_refuses_clearly(tmp_path, dcgan_run, case):
    ckpt = dcgan_run / "checkpoints" / "last.ckpt"
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    args, message, code = {
        "directory": ([f"ckpt={dcgan_run}"], "is a directory: give a checkpoint file in it", 2),
        "cuda": ([f"ckpt={ckpt}", "device=cuda"], "device=cuda but PyTorch sees 0 CUDA GPUs", 2),
        "unwritable out": ([f"ckpt={ckpt}", f"out={blocker / 'grid.png'}"], "cannot be written", 2),
        "help": (["--help"], "python -m gan_lightning.sample ckpt=", 0),
        "too many": ([f"ckpt={ckpt}", "n=1000000000", "out=all.npz"], "GB of memory, more than half of the", 2),
    }[case]
    if case == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    proc = run_cli(*args, cwd=tmp_path, check=False, module="gan_lightning.sample")
    assert proc.returncode == code and "Traceback" not in proc.stderr
    assert message in proc.stderr + proc.stdout


def test_the_folder_cache_notices_images_replaced_under_the_same_names(tmp_path):
    from PIL import Image

    from gan_lightning.data import ImageFolderDataModule

    root = tmp_path / "imgs"
    make_mixed_folder(root, n_good=8)
    kwargs = dict(root=str(root), image_size=16, batch_size=4, num_workers=0, cache=True,
                  cache_dir=str(tmp_path / "cache"))
    first = ImageFolderDataModule(**kwargs)
    first.setup()
    target = root / "a" / "good_01.png"
    Image.new("RGB", (50, 50), (255, 255, 255)).save(target)  # same name, new pixels
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # even on a coarse clock
    second = ImageFolderDataModule(**kwargs)
    second.setup()
    white = lambda images: (images.flatten(1) == 255).all(1)  # noqa: E731
    assert not white(first.images).any() and white(second.images).sum() == 1


def test_the_slurm_launcher_sends_lightnings_requeue_signal():
    import signal

    from hydra import compose, initialize_config_module
    from lightning.fabric.plugins.environments import SLURMEnvironment

    from gan_lightning.run.signals import STOP_SIGNALS

    with initialize_config_module("gan_lightning.conf", version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    signal_name, seconds = cfg.hydra.launcher.additional_parameters.signal.split("@")
    assert getattr(signal, f"SIG{signal_name}") == SLURMEnvironment().requeue_signal == signal.SIGUSR1
    assert int(seconds) > 0
    assert signal.SIGUSR1 not in STOP_SIGNALS  # outside SLURM the run leaves SIGUSR1 alone (in a job: test_slurm.py)


@pytest.mark.slow  # the exit code and stderr of a real `python -m gan_lightning` process
def test_a_refusal_from_a_real_process_is_one_line_and_exit_code_2(tmp_path):
    proc = run_cli("model.lr=fast", *QUICK, f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path, check=False,
                   process=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == ["gan_lightning: model.lr='fast' is not a number: set it to one, "
                                                "e.g. model.lr=0.0002."]


def _fake_slurm(root):
    """A folder holding stand-ins for SLURM's sbatch and srun, to put on PATH."""
    folder = root / "slurm_bin"
    folder.mkdir()
    for name in ("sbatch", "srun"):
        (folder / name).write_text("#!/bin/sh\nexit 1\n")
        (folder / name).chmod(0o755)
    return folder


@pytest.mark.parametrize("case", ["no SLURM here", "devices left to auto", "no trials", "a search with metrics off"])
def test_a_sweep_that_cannot_launch_is_one_sentence_and_leaves_nothing(tmp_path, monkeypatch, case):
    overrides, message = {
        "no SLURM here": (["hydra/launcher=slurm", "trainer.devices=1"],
                          "hydra/launcher=slurm submits each job with SLURM's sbatch and srun, and sbatch is not on "
                          "this machine's PATH: run the command on the cluster's login node"),
        "devices left to auto": (["hydra/launcher=slurm"],
                                 "hydra/launcher=slurm asks SLURM for trainer.devices GPUs (one task each) per node, "
                                 "and trainer.devices is 'auto': set the number, e.g. trainer.devices=1."),
        "no trials": (["hparams_search=optuna", "hydra.sweeper.n_trials=0"],
                      "hydra.sweeper.n_trials=0 runs no trial, so the search has no best run to report"),
        "a search with metrics off": (["hparams_search=optuna", "hydra.sweeper.n_trials=2"],
                                      "hparams_search=optuna minimises each run's best FID, and "
                                      "callbacks.metrics.feature=null turns the metrics off"),
    }[case]
    monkeypatch.setenv("PATH", str(_fake_slurm(tmp_path) if case == "devices left to auto" else tmp_path / "nothing"))
    sweep = tmp_path / "sweeps" / "sweep"
    proc = run_cli("-m", *QUICK, *overrides, f"hydra.sweep.dir={sweep}", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("gan_lightning: ")]
    assert len(lines) == 1 and message in lines[0], proc.stderr[-2000:]
    assert not (tmp_path / "sweeps").exists() and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("key", ["hydra.run.dir", "hydra.sweep.dir"])
def test_a_file_where_the_run_folder_goes_is_one_sentence(tmp_path, key):
    (tmp_path / "notes").write_text("mine")
    proc = run_cli(*(["-m"] if "sweep" in key else []), *QUICK, f"{key}=notes/run", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    assert f"{key}={tmp_path / 'notes' / 'run'} cannot be made: {tmp_path / 'notes'} is a file, not a folder" in proc.stderr
    assert (tmp_path / "notes").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["data", "notes"]


def test_a_high_learning_rate_is_warned_about_in_one_line(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(*QUICK, "model=gan", "net.g_hidden=[16]", "net.d_hidden=[16]", "trainer.limit_train_batches=1",
                   "model.lr=0.05", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    warning = ("model.lr=0.05 is far above the 1e-5 to about 5e-3 that GANs train with: expect the losses to blow up "
               "(e.g. model.lr=0.0002).")
    assert warning in proc.stdout + proc.stderr and warning in (run_dir / "train.log").read_text()
    quiet = run_cli(*QUICK, "model=gan", "net.g_hidden=[16]", "net.d_hidden=[16]", "trainer.limit_train_batches=1",
                    "model.lr=0.01", f"hydra.run.dir={tmp_path / 'usual'}", cwd=tmp_path)
    assert "is far above" not in quiet.stdout + quiet.stderr


@pytest.mark.parametrize("crop", [None, 28, 40])
def test_sampling_offers_the_digits_without_their_padding(tmp_path, crop):
    import numpy as np

    run_dir = tmp_path / "run"
    run_cli(*QUICK, "model=gan", "net.g_hidden=[16]", "net.d_hidden=[16]", "trainer.limit_train_batches=1",
            "data.image_size=32", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    out = tmp_path / "digits.npz"
    proc = run_cli(f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", "n=5", f"out={out}",
                   *([f"crop={crop}"] if crop else []), cwd=tmp_path, module="gan_lightning.sample", check=False)
    if crop == 40:
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and not out.exists()
        assert "crop=40 does not fit the checkpoint's 32x32 images: use 1 to 32, e.g. crop=28" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    images = np.load(out)["arr_0"]
    assert images.shape == ((5, 28, 28, 1) if crop else (5, 32, 32, 1))
    assert ("crop=28 writes the 28-pixel digits" in proc.stdout) == (crop is None)
