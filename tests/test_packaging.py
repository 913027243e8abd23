"""The configs ship inside the package, so a regular (wheel) install runs from anywhere."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # builds and installs a wheel, then runs it as a process
def test_wheel_install_composes_and_runs_outside_the_repo(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("gan_lightning-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    in_repo = {str(p.relative_to(REPO)) for p in (REPO / "gan_lightning" / "conf").rglob("*.yaml")}
    assert in_repo and in_repo <= shipped

    # Install the wheel alone into a directory that shadows the editable checkout.
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import gan_lightning; print(gan_lightning.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(site))
    composed = subprocess.run([sys.executable, "-m", "gan_lightning", "model=wgan_gp", "--cfg", "job"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert composed.returncode == 0, composed.stderr
    assert "_target_: gan_lightning.models.WGANGP" in composed.stdout
    assert "name: dcgan" in composed.stdout


CORE = ("models", "nets", "objective", "data", "metrics", "loggers")
PLUMBING = ("run", "cli", "cluster")


@pytest.mark.parametrize("package", CORE)
def test_the_core_imports_nothing_from_the_runs_plumbing(package):
    import ast

    package_dir = Path(__file__).resolve().parents[1] / "gan_lightning" / package
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            assert not any(name == f"gan_lightning.{plumbing}" or name.startswith(f"gan_lightning.{plumbing}.")
                           for name in names for plumbing in PLUMBING), \
                f"{path.relative_to(package_dir.parents[1])} imports {names}"
