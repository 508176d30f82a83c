"""The paired bootstrap over cases that sums up the BraTS benchmark's runs (benchmarks/case_intervals.py)."""

import doctest
import json
from pathlib import Path

import pytest

from conftest import benchmark_module


@pytest.fixture(scope="module")
def intervals():
    return benchmark_module("case_intervals")


def run_file(path: Path, scores: dict[str, list[float]], truth_jumps=(4.0, 5.0, 6.0, 7.0)) -> Path:
    """A metrics.json as bench_brats_protocol.py writes it: per-case rows (SSIM = PSNR / 100 = MAE here) and a mean row."""
    rows = [
        {"case": case, "method": method, "ssim": value, "psnr": 100 * value, "mae": value, "truth_jump": truth_jumps[case]}
        for method, values in scores.items()
        for case, value in enumerate(values)
    ]
    rows.append({"case": "mean", "method": "medinpaint", "ssim": 0.0, "psnr": 0.0, "mae": 0.0, "truth_jump": 0.0})
    path.write_text(json.dumps({"arguments": {}, "rows": rows}))
    return path


def test_the_docstring_example_runs(intervals):
    assert doctest.testmod(intervals).failed == 0


def test_methods_from_two_runs_of_the_same_holes_are_paired_and_the_first_file_wins(intervals, tmp_path):
    new = run_file(tmp_path / "new.json", {"medinpaint": [0.80, 0.82, 0.84, 0.86]})
    old = run_file(tmp_path / "old.json", {"medinpaint": [0.0, 0.0, 0.0, 0.0], "biharmonic-3d": [0.79, 0.80, 0.81, 0.82]})
    found = intervals.case_interval(intervals.case_rows([new, old]), "medinpaint", "biharmonic-3d")
    assert found["cases"] == 4 and found["ssim"] == pytest.approx(0.025)
    assert 0 < found["ssim_low"] <= found["ssim"] <= found["ssim_high"] and found["ssim_above"] == 4
    assert found["mae_above"] == 0  # a higher MAE is worse in every case
    assert found["psnr"] == pytest.approx(2.5)


def test_a_difference_within_the_cases_spread_gets_an_interval_around_zero(intervals, tmp_path):
    run = run_file(tmp_path / "run.json", {"medinpaint": [0.80, 0.90, 0.80, 0.90], "biharmonic-3d": [0.85, 0.85, 0.85, 0.85]})
    found = intervals.case_interval(intervals.case_rows([run]), "medinpaint", "biharmonic-3d")
    assert found["ssim_low"] < 0 < found["ssim_high"] and found["ssim_above"] == 2


def test_runs_of_other_holes_are_refused(intervals, tmp_path):
    first = run_file(tmp_path / "first.json", {"medinpaint": [0.8] * 4})
    other = run_file(tmp_path / "other.json", {"biharmonic-3d": [0.8] * 4}, truth_jumps=(4.0, 5.0, 6.5, 7.0))
    with pytest.raises(SystemExit, match="case 2 differs between the files"):
        intervals.case_rows([first, other])
    with pytest.raises(SystemExit, match="no case has both"):
        intervals.case_interval(intervals.case_rows([first]), "medinpaint", "biharmonic-3d")
