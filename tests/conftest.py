import atexit
import contextlib
import io
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from gan_lightning.data import InMemoryImageDataModule
from gan_lightning.run import directory as runs

# Test-only callbacks (tests/helpers) importable by the runs the tests start, in and out of process.
HELPERS = Path(__file__).parent / "helpers"
sys.path.insert(0, str(HELPERS))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HELPERS), os.environ.get("PYTHONPATH")]))

_CLASSIFIER: list[tuple[Path, float]] = []

# Signals a test sends its own process (faults.SignalAt, a second Ctrl-C): the in-process run's
# stop is then what the test is about. Any other signal that stops a run is the developer's
# Ctrl-C (or a SIGTERM): it ends the suite, as it ends any suite.
_SELF_SIGNALS: list[int] = []
_real_kill = os.kill


def _kill_recorded(pid: int, signum: int) -> None:
    if pid == os.getpid():
        _SELF_SIGNALS.append(signum)
    _real_kill(pid, signum)


os.kill = _kill_recorded
STOPPED_BY_SIGNAL = {128 + signal.SIGINT: "SIGINT (Ctrl-C)", 128 + signal.SIGTERM: "SIGTERM"}


def _sigterm_ends_the_suite(signum, frame) -> None:
    # Python's default for SIGTERM ends at once, skipping pytest's summary and the atexit clean-up
    raise KeyboardInterrupt("SIGTERM")


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _sigterm_ends_the_suite)


def session_classifier() -> tuple[Path, float]:
    """The metrics' digit classifier as a user's first run on digits trains it: (path, test accuracy).
    Trained once (25 s) and kept in pytest's cache until its code changes; pytest-xdist's workers
    share it (the first trains it while the others wait)."""
    if not _CLASSIFIER:
        import fcntl

        from gan_lightning.data import MNIST5kDataModule
        from gan_lightning.metrics.train_classifier import train_classifier

        folder = Path(os.environ["GAN_LIGHTNING_TEST_CLASSIFIER"])
        path = folder / "mnist5k.pt"
        with open(folder / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                threads = torch.get_num_threads()
                torch.set_num_threads(os.cpu_count() or 1)  # the workers wait for it: all cores
                try:
                    accuracy = train_classifier(MNIST5kDataModule(), folder / "training.pt", "mnist5k")
                finally:
                    torch.set_num_threads(threads)
                (folder / "accuracy").write_text(repr(accuracy))
                os.replace(folder / "training.pt", path)
            _CLASSIFIER.append((path, float((folder / "accuracy").read_text())))
    return _CLASSIFIER[0]


def _classifier_cache(config) -> Path:
    """pytest's cache folder for the classifier of this code (a folder of the session's when the
    cache is off): a change to the classifier or its training trains it again."""
    import hashlib

    import gan_lightning.metrics.classifier as classifier
    import gan_lightning.metrics.train_classifier as training

    key = hashlib.sha256(torch.__version__.encode())
    for module in (classifier, training):
        key.update(Path(module.__file__).read_bytes())
    if config.pluginmanager.has_plugin("cacheprovider") and getattr(config, "cache", None) is not None:
        return config.cache.mkdir(f"gan_lightning_classifier_{key.hexdigest()[:16]}")
    folder = Path(tempfile.mkdtemp(prefix="gan_lightning_classifier_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto`: the cores this process may use (affinity and CPU quota), not the machine's."""
    from gan_lightning.run.threads import usable_cores

    return usable_cores()


def pytest_configure(config) -> None:
    if not hasattr(config, "workerinput"):  # pytest-xdist's controller, or a run without xdist
        os.environ["GAN_LIGHTNING_TEST_CLASSIFIER"] = str(_classifier_cache(config))
    else:  # one thread each, in the worker and the runs it starts (threads of several workers would fight
        # over the cores), so a run in a process and its reference run in the worker compute the same numbers
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@dataclass
class Finished:
    """What a command left behind, as subprocess.CompletedProcess reports it."""
    returncode: int
    stdout: str
    stderr: str


# `python -m <module>` -> the function it runs
ENTRY_POINTS = {"gan_lightning": "gan_lightning.train:main", "gan_lightning.sample": "gan_lightning.sample:main",
                "gan_lightning.compare": "gan_lightning.compare.__main__:main"}


def _give_classifier(cwd: Path) -> None:
    """`cwd`'s data root gets the session's digit classifier, as a user's has after the first
    run trained it (the metrics callback would otherwise train it again in every test)."""
    classifiers = Path(cwd) / "data" / "classifiers"
    if not classifiers.exists():
        classifiers.mkdir(parents=True)
        for name in ("mnist5k", "mnist"):
            shutil.copy(session_classifier()[0], classifiers / f"{name}.pt")


def run_cli(*overrides: str, cwd: Path, check: bool = True, module: str = "gan_lightning",
            process: bool = False) -> Finished:
    """`python -m gan_lightning <overrides>` (or `module`) as a user runs it, from `cwd`.

    In this process by default: the entry point's own function with sys.argv, the working
    directory, stdout and stderr as a user's shell gives them, its exit code from SystemExit,
    and everything it changes in the process (logging, environment, warnings filters) put back
    afterwards (signal handlers too). `process=True` starts a real `python -m` (signals, exit codes of a process,
    DDP children, the installed package): each start pays ~5 s of imports.
    """
    _give_classifier(cwd)
    runner = _run_subprocess if process else _run_in_process
    finished = runner(module, list(overrides), Path(cwd))
    if check and finished.returncode != 0:
        raise AssertionError(f"exit {finished.returncode}\nSTDOUT:\n{finished.stdout[-3000:]}\n"
                             f"STDERR:\n{finished.stderr[-3000:]}")
    return finished


def _run_subprocess(module: str, overrides: list[str], cwd: Path) -> Finished:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", module, *overrides], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    return Finished(proc.returncode, proc.stdout, proc.stderr)


def _mode_from_the_command_line(real_get_mode):
    """Hydra composes the whole config twice per run, the first time only to read hydra.mode (half
    of an in-process test run's time). Only hparams_search=optuna (or a config folder a command adds)
    sets it; for any other command hydra.mode is unset, so get_mode's answer is None without composing."""
    def get_mode(self, config_name, overrides):
        keys = {override.split("=")[0].lstrip("+~") for override in overrides}
        added_folder = any(arg.startswith(("--config-dir", "-cd", "--config-path", "-cp")) for arg in sys.argv)
        if added_folder or keys & {"hydra.mode", "hparams_search", "hydra.searchpath"}:
            return real_get_mode(self, config_name, overrides)
        return None
    return get_mode


def _run_in_process(module: str, overrides: list[str], cwd: Path) -> Finished:
    import importlib
    import logging
    import traceback
    import warnings

    from hydra._internal.hydra import Hydra
    from hydra.core.global_hydra import GlobalHydra

    module_name, function = ENTRY_POINTS[module].split(":")
    entry = getattr(importlib.import_module(module_name), function)
    stdout, stderr = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved = (os.getcwd(), sys.argv, dict(os.environ), list(root.handlers), root.level,
             {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)})
    code = 0
    self_signals = len(_SELF_SIGNALS)
    os.environ["HYDRA_FULL_ERROR"] = "0"
    real_get_mode = Hydra.get_mode
    Hydra.get_mode = _mode_from_the_command_line(real_get_mode)
    try:
        os.chdir(cwd)
        sys.argv = [module, *overrides]
        with warnings.catch_warnings(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            warnings.simplefilter("ignore")
            try:
                entry()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            except BaseException:  # what a user would see: a traceback on stderr, exit 1
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(saved[0])
        sys.argv = saved[1]
        os.environ.clear()
        os.environ.update(saved[2])
        for handler in root.handlers:
            if handler not in saved[3]:
                handler.close()
        root.handlers[:] = saved[3]
        root.setLevel(saved[4])
        for signum, handler in saved[5].items():
            signal.signal(signum, handler)
        GlobalHydra.instance().clear()
        Hydra.get_mode = real_get_mode
    if code in STOPPED_BY_SIGNAL and len(_SELF_SIGNALS) == self_signals:  # not the test's own signal
        raise KeyboardInterrupt(f"{STOPPED_BY_SIGNAL[code]} stopped the run in this test: the suite stops")
    return Finished(code, stdout.getvalue(), stderr.getvalue())


def read_scalars(log_dir: Path) -> dict:
    """{tag: [(step, value), ...]}, plus "__images__": {image tag: [step, ...]}."""
    scalars, image_steps = runs.read_events(log_dir)
    return {**scalars, "__images__": image_steps}


def write_mnist_idx(root: Path, n_train: int = 256, n_test: int = 16, seed: int = 0) -> np.ndarray:
    """Valid MNIST IDX files under root/MNIST/raw (what torchvision reads); returns the train pixels."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train = None
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        pixels = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + pixels.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())
        if prefix == "train":
            train = pixels
    return train


CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar10(root: Path, per_batch: int = 20, seed: int = 0) -> np.ndarray:
    """A small CIFAR-10 in torchvision's on-disk format (root/cifar-10-batches-py: five pickled
    training batches of uint8 rows, a test batch and batches.meta); returns the training rows."""
    import pickle

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(k) for k in rng.integers(0, 10, size=per_batch)]
        with open(folder / name, "wb") as file:
            pickle.dump({"batch_label": name, "data": data, "labels": labels}, file)
        if name != "test_batch":
            rows.append((data, labels))
    with open(folder / "batches.meta", "wb") as file:
        pickle.dump({"label_names": CIFAR10_CLASSES, "num_cases_per_batch": per_batch, "num_vis": 3072}, file)
    return np.concatenate([data for data, _ in rows]), np.concatenate([labels for _, labels in rows])


class RandomImages(InMemoryImageDataModule):
    """A tiny in-memory data set for fast unit tests of the training loop."""

    def __init__(self, n: int = 64, shape=(1, 28, 28), batch_size: int = 8, classes: int | None = None):
        super().__init__(root=".", batch_size=batch_size)
        self.image_shape = tuple(shape)
        self.n, self.classes = n, classes

    def load_images(self):
        return torch.randint(0, 256, (self.n, *self.image_shape), dtype=torch.uint8,
                             generator=torch.Generator().manual_seed(0))

    def class_names(self):
        return [f"class{k}" for k in range(self.classes)] if self.classes else super().class_names()

    def load_labels(self):
        return torch.arange(self.n) % self.classes


def fit(model: L.LightningModule, batches: int, datamodule=None, **trainer_kwargs) -> L.Trainer:
    """Train `model` for `batches` batches on CPU with no logger, checkpoint or progress bar."""
    kwargs = dict(accelerator="cpu", devices=1, max_epochs=1, limit_train_batches=batches, logger=False,
                  enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    kwargs.update(trainer_kwargs)
    trainer = L.Trainer(**kwargs)
    trainer.fit(model, datamodule=datamodule or RandomImages(n=max(64, 8 * batches)))
    return trainer


def assert_same_training_state(a: dict, b: dict) -> None:
    """Two checkpoints hold the same weights, buffers, counters and optimizer states, bit for bit."""
    assert a["state_dict"]["_extra_state"] == b["state_dict"]["_extra_state"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key, value in a["state_dict"].items():
        if key.endswith("_extra_state"):  # a submodule's own state (LeCam's averages): a dict of tensors
            other = b["state_dict"][key]
            assert value.keys() == other.keys() and all(
                torch.equal(torch.as_tensor(v), torch.as_tensor(other[k])) for k, v in value.items()), key
        else:
            assert torch.equal(value, b["state_dict"][key]), key
    for opt_a, opt_b in zip(a["optimizer_states"], b["optimizer_states"], strict=True):
        for param, state in opt_a["state"].items():
            for name, value in state.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(opt_b["state"][param][name])), (param, name)


MLP = {"name": "mlp", "g_hidden": [32], "d_hidden": [32]}
DCGAN_SMALL = {"name": "dcgan", "g_features": 8, "d_features": 8}


@pytest.fixture(autouse=True)
def _quiet_and_seeded():
    torch.manual_seed(0)


@pytest.fixture(scope="session", autouse=True)
def _offline(tmp_path_factory):
    """The suite behaves the same with or without internet: every download (MNIST, CelebA,
    Inception weights) goes to an unreachable proxy, and no cached Inception weights are
    found; subprocesses inherit this."""
    patch = pytest.MonkeyPatch()
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        patch.setenv(name, "http://127.0.0.1:9")
    for name in ("no_proxy", "NO_PROXY"):
        patch.delenv(name, raising=False)
    patch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
    yield
    patch.undo()


@pytest.fixture
def digit_classifier() -> tuple[Path, float]:
    return session_classifier()


def _random_image(rng, size, mode="RGB"):
    from PIL import Image

    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, size=(size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(pixels[:, :, 0] if mode == "L" else pixels, mode)


def make_fake_celeba(root: Path, n: int = 40, seed: int = 0) -> Path:
    """torchvision's CelebA layout under root/celeba: n 178x218 JPEGs, 3/4 train, then valid, test."""
    rng = np.random.default_rng(seed)
    base = root / "celeba"
    (base / "img_align_celeba").mkdir(parents=True)
    lines = []
    for i in range(1, n + 1):
        name = f"{i:06d}.jpg"
        _random_image(rng, (178, 218)).save(base / "img_align_celeba" / name, quality=90)
        lines.append(f"{name} {0 if i <= n * 3 // 4 else 1 if i <= n * 7 // 8 else 2}")
    (base / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return base


def make_mixed_folder(root: Path, n_good: int = 20, seed: int = 0) -> dict[str, Path]:
    """A user's folder: nested dirs, jpg/png/webp, RGBA, grayscale, a corrupt and a truncated file, a .txt."""
    rng = np.random.default_rng(seed)
    (root / "a" / "b").mkdir(parents=True)
    for i in range(n_good):
        folder = root / ("a/b" if i % 3 == 0 else "a" if i % 3 == 1 else ".")
        _random_image(rng, (80 + i, 60 + 2 * i)).save(folder / f"good_{i:02d}.{('jpg', 'png', 'webp')[i % 3]}")
    special = {"rgba": root / "a" / "alpha.png", "gray": root / "gray.jpg", "corrupt": root / "a" / "corrupt.jpg",
               "truncated": root / "a" / "b" / "truncated.jpg"}
    _random_image(rng, (70, 70), "RGBA").save(special["rgba"])
    _random_image(rng, (90, 70), "L").save(special["gray"])
    special["corrupt"].write_bytes(b"this is not a jpeg" * 50)
    _random_image(rng, (120, 120)).save(root / "whole.jpg")
    data = (root / "whole.jpg").read_bytes()
    (root / "whole.jpg").unlink()
    special["truncated"].write_bytes(data[: len(data) // 2])
    (root / "notes.txt").write_text("labels are ignored")
    return special
