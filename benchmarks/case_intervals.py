"""How sure is a difference between two fills over a benchmark's cases? Paired bootstrap over cases.

``bench_brats_protocol.py`` scores a handful of tumour-sized holes (3 to 12), and its tables give
the mean over them and in how many cases one fill beats another. This reads the per-case rows of
one or more of its ``metrics.json`` files (runs with the same ``--seed`` and volume draw the same
holes, so a method scored in one run can be compared with one scored in another; each case's
truth jump must agree across the files, which checks that; a method scored in several files is
taken from the first that has it), takes per case the difference
``method − reference`` of SSIM, PSNR and MAE, and reports its mean with a 95 % percentile-bootstrap
interval over the cases (cases resampled with replacement, seeded) and the number of cases above.
With 8 cases the interval is rough; it says whether a mean difference is larger than the spread of
the cases, not more.

Run: ``python benchmarks/case_intervals.py results/views_real8_fig/metrics.json --method medinpaint --reference biharmonic-3d``;
a change against the code before it: ``--before results/OLD/metrics.json --reference "medinpaint before"``.

Example:
    >>> rows = [{"case": c, "method": m, "ssim": s, "psnr": p, "mae": a, "truth_jump": 1.0}
    ...         for c, (s1, s2) in enumerate([(0.8, 0.7), (0.9, 0.85), (0.7, 0.69)])
    ...         for m, s, p, a in (("a", s1, 20.0, 0.1), ("b", s2, 19.0, 0.2))]
    >>> interval = case_interval(rows, "a", "b")
    >>> interval["cases"], round(interval["ssim"], 4), interval["ssim_above"], interval["psnr_low"] > 0
    (3, 0.0533, 3, True)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

RESAMPLES = 10_000
SCORES = ("ssim", "psnr", "mae")


def case_rows(paths: list[Path], before: Path | None = None) -> list[dict]:
    """The per-case rows (no means) of the ``metrics.json`` files in ``paths``, each method's from the
    first file that has it, and those of ``before`` (an earlier run of the same holes) with each method
    named ``"<method> before"``; a case's truth jump must agree across the files."""
    rows, truth_jumps, taken = [], {}, set()
    for path in [*paths, *([before] if before else [])]:
        found = [row for row in json.loads(Path(path).read_text())["rows"] if row["case"] != "mean"]
        if path is before:
            found = [{**row, "method": f"{row['method']} before"} for row in found]
        new_methods = {row["method"] for row in found} - taken
        taken |= new_methods
        for row in found:
            if row["method"] not in new_methods:
                continue
            known = truth_jumps.setdefault(row["case"], row["truth_jump"])
            if not np.isclose(known, row["truth_jump"], rtol=1e-9):
                raise SystemExit(f"case {row['case']} differs between the files (truth jump {known} against {row['truth_jump']}): runs of other holes")
            rows.append(row)
    return rows


def case_interval(rows: list[dict], method: str, reference: str, seed: int = 0) -> dict[str, float]:
    """Per score: the mean of ``method − reference`` over the cases both have, its 95 % bootstrap interval, cases above."""
    by_method = {name: {row["case"]: row for row in rows if row["method"] == name} for name in (method, reference)}
    cases = sorted(set(by_method[method]) & set(by_method[reference]))
    if not cases:
        raise SystemExit(f"no case has both {method!r} and {reference!r}")
    draws = np.random.default_rng(seed).integers(len(cases), size=(RESAMPLES, len(cases)))
    result: dict[str, float] = {"cases": len(cases)}
    for score in SCORES:
        differences = np.array([by_method[method][case][score] - by_method[reference][case][score] for case in cases])
        low, high = np.percentile(differences[draws].mean(axis=1), (2.5, 97.5))
        above = int((differences < 0).sum() if score == "mae" else (differences > 0).sum())  # MAE: lower is better
        result.update({score: float(differences.mean()), f"{score}_low": float(low), f"{score}_high": float(high), f"{score}_above": above})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("metrics", type=Path, nargs="+", help="bench_brats_protocol.py metrics.json files of the same holes")
    parser.add_argument("--method", default="medinpaint")
    parser.add_argument("--reference", default="biharmonic-3d")
    parser.add_argument("--before", type=Path, default=None, help="metrics.json of an earlier run of the same holes: its methods are named '<method> before' (e.g. --reference 'medinpaint before')")
    args = parser.parse_args()
    interval = case_interval(case_rows(args.metrics, args.before), args.method, args.reference)
    print(f"{args.method} − {args.reference}, {interval['cases']} cases (mean [95 % bootstrap interval], cases better):")
    for score, digits in (("ssim", 4), ("psnr", 2), ("mae", 4)):
        print(f"  {score}: {interval[score]:+.{digits}f} [{interval[f'{score}_low']:+.{digits}f}, {interval[f'{score}_high']:+.{digits}f}], {interval[f'{score}_above']} of {interval['cases']}")


if __name__ == "__main__":
    main()
