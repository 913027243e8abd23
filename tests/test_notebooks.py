"""The notebooks run, top to bottom, against a real (tiny) run: they cannot rot."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import run_cli

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow  # a Jupyter kernel: a process of its own
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes_against_a_run(tmp_path, monkeypatch, path):
    run_dir = tmp_path / "outputs" / "runs" / "dcgan-mnist5k" / "tiny"
    run_cli("model=dcgan", "net.g_features=8", "net.d_features=8", "trainer.max_epochs=2",
            "trainer.limit_train_batches=5", "trainer.enable_progress_bar=false", "callbacks.metrics.num_samples=128",
            f"hydra.run.dir={run_dir}", cwd=tmp_path)
    monkeypatch.setenv("GAN_NUM_SAMPLES", "128")
    monkeypatch.chdir(tmp_path)  # the notebook finds the newest run under outputs/runs, as a user's would
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs)
    assert "dcgan on mnist5k" in outputs
    assert all(f"val/{name}" in outputs for name in ("fid", "kid", "is", "precision", "recall", "density", "coverage",
                                                     "class_coverage"))
    images = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # curves, final grid, interpolation
