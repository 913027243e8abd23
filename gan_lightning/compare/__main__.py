"""`python -m gan_lightning.compare RUNS...`: one table for runs across seeds and sweeps.

    python -m gan_lightning -m model.lr=1e-4,2e-4,5e-4 model.beta1=0.0,0.5 seed=1,2,3
    python -m gan_lightning.compare outputs/multiruns/<time>     # or any run directories

One row per configuration (the overrides that differ between the runs, seed aside): how many
seeds, how the runs stand, and the mean ± std over seeds of FID, KID, IS, precision and recall
at each run's best (lowest-FID) evaluation and at its last, of the generator steps and of the
wall time; sorted by mean best FID, the best row marked. Prints the table and writes
comparison.md, comparison.csv, fid_curves.png and, for a sweep over two settings,
fid_heatmap.png beside the runs (or in --out). Failed and not-yet-measured runs are listed with
their error line; runs still training are read as far as they have come.
"""

import argparse
import csv
import io
import os
import sys
from pathlib import Path

from gan_lightning.compare import plots
from gan_lightning.compare.runs import find_runs, read_run
from gan_lightning.compare.table import csv_rows, group, markdown
from gan_lightning.errors import ConfigError, one_line_errors

PROGRAM = "gan_lightning.compare"


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a comparison interrupted while writing leaves the previous one."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _picture(draw, path: Path, *args) -> None:
    temporary = path.with_name(f".tmp.{path.name}")
    draw(*args, temporary)
    os.replace(temporary, path)


def _writable_folder(folder: Path, out: str | None) -> Path:
    """`folder`, made if missing; a ConfigError naming --out when it is a file or cannot be written."""
    what = f"--out {out}" if out is not None else f"{folder} (beside the runs)"
    fix = "give a folder you can write, e.g. --out comparison (made if missing)"
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what} is a file, not a folder: {fix}.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{what} cannot be made ({err.strerror or err}): {fix}.") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} cannot be written (no permission): {fix}.")
    return folder


def compare(paths: list[str], out: str | None = None) -> Path:
    """Read, group, print and write; returns the folder written to."""
    run_dirs = find_runs(paths)
    runs = [read_run(run_dir) for run_dir in run_dirs]  # a half-written one stops here, before anything is written
    keys, rows = group(runs)
    if out is not None:
        folder = Path(out)
    elif len(paths) == 1 and Path(paths[0]).is_dir():
        folder = Path(paths[0])
    else:
        folder = Path(os.path.commonpath([run_dir.parent for run_dir in run_dirs]))
    table = markdown(keys, rows)
    unmeasured = [run for run in runs if not run.evaluations or run.status in ("failed", "stopped")]
    notes = [f"- `{run.path}`: {run.status}" + (f": {run.error}" if run.error else "")
             + (f"; {run.damage}" if run.damage else "")
             + ("" if run.evaluations else ", no FID: metrics were off (callbacks.metrics.feature=null)"
                if run.metrics_off else ", no FID evaluation yet") for run in unmeasured]
    _writable_folder(folder, out)
    measured = any(row.measured for row in rows)  # no FID anywhere: no pictures
    pictures = (["fid_curves.png"] + (["fid_heatmap.png"] if len(keys) == 2 else [])) if measured else []
    if measured:
        _picture(plots.fid_curves, folder / "fid_curves.png", rows)
    if "fid_heatmap.png" in pictures:
        _picture(plots.fid_heatmap, folder / "fid_heatmap.png", keys, rows)
    setting = ", ".join(f"`{key}`" for key in keys) or "nothing (seeds only)"
    _write(folder / "comparison.md",
           f"# Comparison of {len(runs)} run{'s' * (len(runs) != 1)}\n\nConfigurations differ in {setting}. Numbers are the mean ± std "
           f"over seeds, at each run's best (lowest-FID) evaluation unless marked final; time is the wall time from "
           f"the run's first TensorBoard event to its last.\n\n{table}\n"
           + ("\n## Runs without numbers, stopped or failed\n\n" + "\n".join(notes) + "\n" if notes else "")
           + "\n" + "".join(f"![{name}]({name})\n" for name in pictures))
    records = csv_rows(keys, rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    _write(folder / "comparison.csv", buffer.getvalue())
    print(table)
    if notes:
        print("\nRuns without numbers, stopped or failed:\n" + "\n".join(notes))
    print(f"\nWritten: {', '.join(str(folder / name) for name in ['comparison.md', 'comparison.csv', *pictures])}")
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {PROGRAM}", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories, or folders holding them (a sweep's directory)")
    parser.add_argument("--out", help="folder for comparison.md/.csv and the pictures (default: beside the runs)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    with one_line_errors(PROGRAM):
        try:
            compare(args.runs, args.out)
        except BrokenPipeError:  # `... | head`: the reader has seen enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    main()
