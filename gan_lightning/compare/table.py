"""Runs grouped into configurations (the settings that differ between them, seed aside), with
the mean and standard deviation over seeds of each number, best row first."""

import math
import statistics
from dataclasses import dataclass

from gan_lightning.compare.runs import METRICS, Run

LOWER_IS_BETTER = ("fid", "kid")
COLUMNS = [(f"{which}_{name}", which, name) for name in METRICS for which in ("best", "final")]


@dataclass
class Row:
    setting: dict[str, str]   # differing key -> value
    runs: list[Run]
    best: bool = False

    @property
    def measured(self) -> list[Run]:
        return [run for run in self.runs if run.evaluations]

    @property
    def seeds(self) -> int:
        """Distinct seeds among the measured runs (two runs of one seed are one seed twice)."""
        return len({str(run.seed) for run in self.measured})

    def values(self, which: str, name: str) -> list[float]:
        """`name` at each seed's best (lowest-FID) or final evaluation."""
        return [getattr(run, which)[name] for run in self.measured if name in getattr(run, which)]

    def spread(self, values: list[float]) -> tuple[float, float]:
        if not values:
            return math.nan, math.nan
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan

    def statistic(self, key: str) -> tuple[float, float]:
        if key == "generator_steps":
            return self.spread([float(run.generator_steps) for run in self.runs])
        if key == "seconds":
            return self.spread([run.seconds for run in self.runs if run.seconds is not None])
        which, _, name = key.partition("_")
        return self.spread(self.values(which, name))

    @property
    def status(self) -> str:
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        return ", ".join(f"{count} {status}" for status, count in counts.items())


    @property
    def alarms(self) -> str:
        """The health alarms its runs raised: '2 d_overfits, 1 fid_worse', or '-'."""
        counts: dict[str, int] = {}
        for run in self.runs:
            for name in run.alarms:
                counts[name] = counts.get(name, 0) + 1
        return ", ".join(f"{count} {name}" for name, count in counts.items()) or "-"


def differing_keys(runs: list[Run]) -> list[str]:
    """The settings whose values are not the same in every run (seed aside), in typed order."""
    keys = list(dict.fromkeys(key for run in runs for key in run.settings if key != "seed"))
    return [key for key in keys if len({run.setting(key) for run in runs}) > 1]


def group(runs: list[Run]) -> tuple[list[str], list[Row]]:
    """(the differing keys, one Row per configuration sorted by mean best FID, the best marked)."""
    keys = differing_keys(runs)
    rows: dict[tuple, Row] = {}
    for run in runs:
        setting = {key: run.setting(key) for key in keys}
        rows.setdefault(tuple(setting.values()), Row(setting, [])).runs.append(run)
    ordered = sorted(rows.values(), key=lambda row: (math.isnan(row.statistic("best_fid")[0]),
                                                     row.statistic("best_fid")[0]))
    if ordered and not math.isnan(ordered[0].statistic("best_fid")[0]):
        ordered[0].best = True
    return keys, ordered


def number(mean: float, std: float, digits: int | None) -> str:
    """'mean ± std' with `digits` decimals, or 4 significant digits (None: KID, whose scale
    depends on the features)."""
    if math.isnan(mean):
        return "-"
    if digits is None:
        return f"{mean:.4g}" + ("" if math.isnan(std) else f" ± {std:.2g}")
    return f"{mean:.{digits}f}" + ("" if math.isnan(std) else f" ± {std:.{digits}f}")


# (column title, statistic key, digits) of the printed and markdown table
SHOWN = [("best FID", "best_fid", 1), ("final FID", "final_fid", 1), ("KID", "best_kid", None), ("IS", "best_is", 2),
         ("precision", "best_precision", 3), ("recall", "best_recall", 3), ("G steps", "generator_steps", 0),
         ("time (s)", "seconds", 0)]


def markdown(keys: list[str], rows: list[Row]) -> str:
    head = ["", *keys, "seeds", "runs", "alarms", *(title for title, _, _ in SHOWN)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * (len(keys) + 4) + ["---:"] * len(SHOWN)) + "|"]
    for row in rows:
        cells = ["**best**" if row.best else "", *(f"`{row.setting[key]}`" for key in keys), str(row.seeds),
                 row.status, row.alarms, *(number(*row.statistic(key), digits) for _, key, digits in SHOWN)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def csv_rows(keys: list[str], rows: list[Row]) -> list[dict]:
    out = []
    for row in rows:
        record = {**row.setting, "best": row.best, "seeds": row.seeds, "runs": row.status, "alarms": row.alarms,
                  "run_dirs": " ".join(str(run.path) for run in row.runs)}
        for key in [key for key, _, _ in COLUMNS] + ["generator_steps", "seconds"]:
            mean, std = row.statistic(key)
            record[f"{key}_mean"], record[f"{key}_std"] = mean, std
        out.append(record)
    return out
