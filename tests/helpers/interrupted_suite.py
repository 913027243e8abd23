"""A suite for test_interrupting_the_suite.py to stop (not collected by itself: no test_ prefix).

The first test trains in-process for a long time; the outer test signals pytest while it does.
In one process the second test must never run. Markers go to $INTERRUPTED_SUITE_MARKERS."""

import os
from pathlib import Path

import conftest
from conftest import run_cli

MARKERS = Path(os.environ.get("INTERRUPTED_SUITE_MARKERS", "."))


def test_a_long_run(tmp_path, monkeypatch):
    from gan_lightning.metrics import train_classifier

    # the session's temporary classifier folder, made in seconds: a stand-in file (metrics are off)
    monkeypatch.setattr(train_classifier, "train_classifier", lambda data, path, name: path.write_bytes(b"-") and 1.0)
    (MARKERS / "training pid").write_text(str(os.getpid()))
    (MARKERS / "classifier_folder").write_text(str(conftest.session_classifier()[0].parent))
    run_cli("model=gan", "net.g_hidden=[32]", "net.d_hidden=[32]", "callbacks.metrics.feature=null",
            "trainer.max_epochs=1000", "trainer.enable_progress_bar=false",
            "callbacks.checkpoint.every_n_generator_steps=5", f"hydra.run.dir={MARKERS / 'run'}", cwd=tmp_path)


def test_after_the_interrupted_one():
    (MARKERS / "second test ran").write_text("")
