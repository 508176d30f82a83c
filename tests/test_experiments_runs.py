"""End to end: ``run_dropout`` and ``run_demo`` on the embedded MRI slices with a tiny checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

from medinpaint.checkpoint import make_checkpoint, save_checkpoint
from medinpaint.config import TrainConfig
from medinpaint.errors import MedinpaintError
from medinpaint.experiments.demo import run_demo
from medinpaint.experiments.dropout import run_dropout
from medinpaint.experiments.results import PROTOCOL_COLUMNS, read_metrics_csv
from medinpaint.inpainting import SearchConfig
from medinpaint.networks import Discriminator, Generator, init_dcgan_weights

TINY_SEARCH = SearchConfig(iterations=3, seed=0)
METHOD_OUTPUTS = {("medinpaint", "blended"), ("medinpaint", "raw"), ("biharmonic", "blended"),
                  ("telea", "blended"), ("navier-stokes", "blended"), ("truth", "original")}


def _checkpoint(path, domain: str = "mri", channels: int = 1):
    """A randomly initialised DCGAN (ngf = ndf = 8) saved as a real medinpaint checkpoint."""
    torch.manual_seed(0)
    config = TrainConfig(domain=domain, channels=channels, ngf=8, ndf=8, data="embedded" if domain == "mri" else "x")
    generator, discriminator = Generator(config.nz, 8, channels), Discriminator(8, channels)
    generator.apply(init_dcgan_weights)
    discriminator.apply(init_dcgan_weights)
    return save_checkpoint(make_checkpoint(config, generator, discriminator, step=0, epoch=0), path)


@pytest.fixture(scope="module")
def mri_checkpoint(tmp_path_factory):
    return _checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny_mri.pt")


def _numbers(run_dir, key):
    return [(r[key], r["method"], r["output"], r["region"], r["metric"], r["value"])
            for r in read_metrics_csv(run_dir / "metrics.csv") if r["metric"] != "seconds"]


@pytest.fixture(scope="module")
def dropout_run(mri_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("dropout")
    return run_dropout(out, rates=(0.3, 0.9), n_images=2, search=TINY_SEARCH, checkpoint=mri_checkpoint, seed=1, progress=False)


def test_dropout_results_folder(dropout_run, mri_checkpoint):
    names = {p.name for p in dropout_run.iterdir()}
    assert names == {"config.json", "metrics.csv", "metrics.json", "table.md", "dropout_psnr_ssim.png", "dropout_examples.png"}
    config = json.loads((dropout_run / "config.json").read_text())
    assert config["rates"] == [0.3, 0.9] and config["seed"] == 1 and config["search"]["iterations"] == 3
    assert config["checkpoint"] == str(mri_checkpoint) and len(config["heldout_slices"]) == 2
    assert config["command"].startswith("medinpaint experiment dropout")


def test_dropout_csv_rows_carry_rate_and_protocol(dropout_run):
    rows = read_metrics_csv(dropout_run / "metrics.csv")
    assert list(rows[0]) == ["rate", *PROTOCOL_COLUMNS]
    assert {row["rate"] for row in rows} == {"0.3", "0.9"}
    assert {(row["method"], row["output"]) for row in rows} == METHOD_OUTPUTS
    for rate in ("0.3", "0.9"):
        hole_psnr = [r for r in rows if r["rate"] == rate and r["region"] == "hole" and r["metric"] == "psnr"]
        assert len(hole_psnr) == 5 and all(r["n_images"] == "2" for r in hole_psnr)
    json_rows = json.loads((dropout_run / "metrics.json").read_text())
    assert len(json_rows) == len(rows)


def test_dropout_same_seed_same_numbers(dropout_run, mri_checkpoint, tmp_path):
    again = run_dropout(tmp_path, rates=(0.3, 0.9), n_images=2, search=TINY_SEARCH, checkpoint=mri_checkpoint, seed=1, progress=False)
    assert _numbers(again, "rate") == _numbers(dropout_run, "rate")


def test_dropout_rejects_bad_rates(mri_checkpoint, tmp_path):
    with pytest.raises(MedinpaintError, match=r"dropout rates \(1.5,\) must be fractions in \(0, 1\)"):
        run_dropout(tmp_path, rates=(1.5,), checkpoint=mri_checkpoint, progress=False)


def test_demo_end_to_end(mri_checkpoint, tmp_path, capsys):
    run_dir = run_demo(tmp_path, n_slices=1, search=TINY_SEARCH, checkpoint=mri_checkpoint, seed=0, progress=True)
    assert {p.name for p in run_dir.iterdir()} == {"config.json", "metrics.csv", "metrics.json", "table.md", "demo.png", "lesions.png"}
    rows = read_metrics_csv(run_dir / "metrics.csv")
    assert list(rows[0]) == ["mask", *PROTOCOL_COLUMNS]
    masks = list(dict.fromkeys(r["mask"] for r in rows))
    assert masks == ["quarter", "half:left", "dropout:0.8", "random-box", "lesions r=6 mm, native"]
    grid_rows = [row for row in rows if not row["mask"].startswith("lesions")]
    assert {(row["method"], row["output"]) for row in grid_rows} == METHOD_OUTPUTS
    lesion_rows = [row for row in rows if row["mask"].startswith("lesions")]
    assert {(row["method"], row["metric"]) for row in lesion_rows} == {
        (method, metric) for method in ("medinpaint", "biharmonic") for metric in ("psnr", "ssim", "mae")
    }
    printed = capsys.readouterr().out
    assert "| quarter | medinpaint |" in printed and str(run_dir) in printed


def test_demo_rejects_a_photo_checkpoint(tmp_path):
    photo = _checkpoint(tmp_path / "photo.pt", domain="photo", channels=3)
    with pytest.raises(MedinpaintError, match="is a 'photo' model but the input is 'mri'"):
        run_demo(tmp_path / "out", checkpoint=photo, progress=False)


def test_demo_rejects_a_bad_mask_spec(mri_checkpoint, tmp_path):
    with pytest.raises(MedinpaintError, match="unknown mask 'qarter': did you mean 'quarter'"):
        run_demo(tmp_path, masks=("qarter",), checkpoint=mri_checkpoint, progress=False)
