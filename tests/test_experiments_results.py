"""Results folders, metric tables and figures of experiment runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from medinpaint.errors import MedinpaintError
from medinpaint.figures import mask_to_rgb, save_metric_plot, save_panel_grid, to_rgb
from medinpaint.experiments.results import PROTOCOL_COLUMNS, format_table, new_run_dir, read_metrics_csv, save_results

ROWS = [
    {"rate": rate, "method": method, "output": output, "region": "hole", "metric": metric,
     "value": value, "std": 0.5, "n_images": 3, "note": ""}
    for rate in (0.1, 0.9)
    for method, output, value in (("medinpaint", "blended", 20.0 + rate), ("medinpaint", "raw", 15.0), ("telea", "blended", 18.0))
    for metric in ("psnr", "ssim")
]


def test_new_run_dir_never_reuses_a_folder(tmp_path):
    first, second = new_run_dir(tmp_path, "demo"), new_run_dir(tmp_path, "demo")
    assert first != second and first.is_dir() and second.is_dir()
    assert first.parent == tmp_path and first.name.startswith("demo-")


def test_new_run_dir_refuses_a_file(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(MedinpaintError, match="is a file: pass a folder path"):
        new_run_dir(tmp_path / "out", "demo")


def test_save_results_writes_config_csv_json(tmp_path):
    rows = ROWS + [{"rate": 0.1, "method": "truth", "output": "original", "region": "whole", "metric": "nrqm",
                    "value": None, "std": None, "n_images": 3, "note": "NRQM unavailable: no model"},
                   {"rate": 0.1, "method": "x", "output": "raw", "region": "hole", "metric": "psnr",
                    "value": float("inf"), "std": 0.0, "n_images": 1, "note": ""}]
    save_results(tmp_path, {"seed": 3, "rates": [0.1, 0.9]}, rows)
    assert json.loads((tmp_path / "config.json").read_text()) == {"seed": 3, "rates": [0.1, 0.9]}
    csv_rows = read_metrics_csv(tmp_path / "metrics.csv")
    assert list(csv_rows[0]) == ["rate", *PROTOCOL_COLUMNS]
    assert len(csv_rows) == len(rows)
    assert csv_rows[-2]["value"] == "" and csv_rows[-2]["note"].startswith("NRQM unavailable")
    json_rows = json.loads((tmp_path / "metrics.json").read_text())
    assert json_rows[0]["value"] == pytest.approx(20.1) and json_rows[-2]["value"] is None
    assert json_rows[-1]["value"] is None  # inf is not JSON: stored as null
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_format_table_pivots_and_marks_missing():
    table = format_table(ROWS, ["rate", "method"], [("blended", "hole", "psnr"), ("raw", "hole", "psnr")]).splitlines()
    assert table[0] == "| rate | method | psnr/hole/blended | psnr/hole/raw |"
    assert "| 0.1 | medinpaint | 20.10 | 15.00 |" in table
    assert "| 0.9 | telea | 18.00 | - |" in table
    assert len(table) == 2 + 4


def test_format_table_output_alternatives():
    rows = [{"method": "truth", "output": "original", "region": "whole", "metric": "niqe", "value": 4.0}]
    assert format_table(rows, ["method"], [(("blended", "original"), "whole", "niqe")]).endswith("| truth | 4.00 |")


def test_to_rgb_paints_missing_pixels_red():
    image = torch.full((1, 4, 4), -1.0)
    known = torch.ones(1, 4, 4)
    known[0, 0, 0] = 0
    rgb = to_rgb(image, known)
    assert rgb.shape == (4, 4, 3)
    assert rgb[0, 0, 0] > 0.8 and rgb[0, 0, 1] < 0.2 and np.all(rgb[1:, 1:] == 0)
    assert np.all(mask_to_rgb(known)[0, 0] == 1) and np.all(mask_to_rgb(known)[1, 1] == 0)


def test_figures_are_real_pngs(tmp_path):
    cell = to_rgb(torch.linspace(-1, 1, 64 * 64).reshape(1, 64, 64))
    grid = save_panel_grid(tmp_path / "grid.png", [[cell, cell], [cell, cell]], row_labels=["a", "b"], col_labels=["x", "y"])
    plot = save_metric_plot(tmp_path / "plot.png", ROWS, x_key="rate")
    for path in (grid, plot):
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) > 100
