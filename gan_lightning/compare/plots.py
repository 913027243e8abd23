"""The comparison's pictures: FID against generator steps per configuration (the mean over seeds,
a band of one standard deviation), and for a sweep over two settings a heatmap of mean best FID."""

import math
from pathlib import Path

from gan_lightning.compare.table import Row


def _label(row: Row) -> str:
    return ", ".join(f"{key}={value}" for key, value in row.setting.items()) or "all runs"


def fid_curves(rows: list[Row], path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axes = plt.subplots(figsize=(8, 5))
    for row in rows:
        curves = [{e["step"]: e["fid"] for e in run.evaluations} for run in row.measured]
        if not curves:
            continue
        steps = sorted(set.intersection(*(set(curve) for curve in curves)))  # evaluated in every seed
        if len(steps) < 2:  # seeds evaluated at different steps (a wall-clock budget): each seed's points
            points = [(step, fid) for curve in curves for step, fid in curve.items()]
            axes.scatter(*zip(*points), s=14, label=_label(row) + (" (best)" if row.best else ""))
            continue
        values = np.array([[curve[step] for step in steps] for curve in curves])
        mean = values.mean(0)
        line, = axes.plot(steps, mean, marker="o", markersize=3, label=_label(row) + (" (best)" if row.best else ""))
        if len(curves) > 1:
            std = values.std(0, ddof=1)
            axes.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    axes.set_xlabel("generator steps")
    axes.set_ylabel("FID (mean over seeds, band: ± 1 std)")
    axes.set_yscale("log")
    axes.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    axes.yaxis.set_minor_formatter(matplotlib.ticker.ScalarFormatter())
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _ordered(values: set[str]) -> list[str]:
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def fid_heatmap(keys: list[str], rows: list[Row], path: Path) -> None:
    """Mean best FID over the grid of the two differing settings `keys`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ys, xs = (_ordered({row.setting[key] for row in rows}) for key in keys)
    grid = np.full((len(ys), len(xs)), np.nan)
    for row in rows:
        grid[ys.index(row.setting[keys[0]]), xs.index(row.setting[keys[1]])] = row.statistic("best_fid")[0]
    figure, axes = plt.subplots(figsize=(1.6 * len(xs) + 2.5, 1.2 * len(ys) + 1.8))
    image = axes.imshow(grid, cmap="viridis_r")
    axes.set_xticks(range(len(xs)), xs)
    axes.set_yticks(range(len(ys)), ys)
    axes.set_xlabel(keys[1])
    axes.set_ylabel(keys[0])
    for (y, x), value in np.ndenumerate(grid):
        if not math.isnan(value):
            axes.text(x, y, f"{value:.1f}", ha="center", va="center", fontsize=9,
                      bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0})
    figure.colorbar(image, label="mean best FID")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
