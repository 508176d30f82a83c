"""``run_celeba_reproduction`` end to end on a small CelebA-layout folder (tiny training, tiny search)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from medinpaint.errors import MedinpaintError
from medinpaint.experiments.celeba import CELEBA_PROTOCOLS, PAPER_TABLE1_PSNR, run_celeba_reproduction
from medinpaint.experiments.results import PROTOCOL_COLUMNS, read_metrics_csv
from medinpaint.inpainting import SearchConfig

TINY_TRAINING = {"ngf": 8, "ndf": 8, "epochs": 1, "batch_size": 8, "augment_flip": False}
TINY_SEARCH = SearchConfig(iterations=3, seed=0)


@pytest.fixture(scope="module")
def celeba_folder(tmp_path_factory):
    """24 JPGs of 178×218 (12 astronaut crops, 12 upscaled LFW faces), partition 16 / 4 / 4."""
    from skimage.data import astronaut, lfw_subset

    root = tmp_path_factory.mktemp("celeba")
    (root / "img_align_celeba").mkdir()
    photo, faces = astronaut(), lfw_subset()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(24):
        if i % 2 == 0:
            top, left = rng.integers(0, 512 - 218), rng.integers(0, 512 - 178)
            image = Image.fromarray(photo[top : top + 218, left : left + 178])
        else:
            grey = (faces[i] * 255).astype(np.uint8)
            image = Image.fromarray(grey).resize((178, 218), Image.BICUBIC).convert("RGB")
        name = f"{i + 1:06d}.jpg"
        image.save(root / "img_align_celeba" / name, quality=95)
        lines.append(f"{name} {0 if i < 16 else 1 if i < 20 else 2}")
    (root / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.slow
def test_celeba_reproduction_trains_then_evaluates(celeba_folder, tmp_path):
    run_dir = run_celeba_reproduction(
        celeba_folder, tmp_path, train_overrides=TINY_TRAINING, n_images=2, search=TINY_SEARCH, seed=0, progress=False
    )
    files = {"config.json", "metrics.csv", "metrics.json", "table.md", "celeba_reference.png", "celeba_paper.png", "training"}
    assert files == {p.name for p in run_dir.iterdir()}
    config = json.loads((run_dir / "config.json").read_text())
    assert config["trained_here"] and config["train_overrides"]["ngf"] == 8
    assert config["test_images"].startswith("test partition") and config["n_images"] == 2
    assert config["model"]["channels"] == 3 and config["model"]["domain"] == "photo"

    rows = read_metrics_csv(run_dir / "metrics.csv")
    assert list(rows[0]) == ["protocol", "mask", *PROTOCOL_COLUMNS]
    labels = {(protocol, label) for protocol, (masks, _) in CELEBA_PROTOCOLS.items() for label in masks}
    assert {(r["protocol"], r["mask"]) for r in rows} == labels
    methods = {"medinpaint", "biharmonic", "telea", "navier-stokes", "truth"}
    assert {r["method"] for r in rows if r["protocol"] == "reference"} == methods | {"medinpaint-sobel-adam"}
    assert {r["method"] for r in rows if r["protocol"] == "paper"} == methods | {"yeh2017-paper"}
    paper = {r["mask"]: float(r["value"]) for r in rows if r["method"] == "yeh2017-paper"}
    assert paper == PAPER_TABLE1_PSNR
    assert all("protocol not stated" in r["note"] and r["region"] == "unstated" for r in rows if r["method"] == "yeh2017-paper")
    raw_psnr = [r for r in rows if r["output"] == "raw" and r["metric"] == "psnr"]
    assert {r["method"] for r in raw_psnr} == {"medinpaint"} and len(raw_psnr) == 2 * len(labels)


def test_celeba_reproduction_refuses_an_mri_checkpoint(celeba_folder, tmp_path):
    from medinpaint.checkpoint import make_checkpoint, save_checkpoint
    from medinpaint.config import TrainConfig
    from medinpaint.networks import Discriminator, Generator

    checkpoint = save_checkpoint(
        make_checkpoint(TrainConfig(ngf=8, ndf=8), Generator(100, 8, 1), Discriminator(8, 1), step=0, epoch=0), tmp_path / "mri.pt"
    )
    with pytest.raises(MedinpaintError, match="is a 'mri' model but the input is 'photo'"):
        run_celeba_reproduction(celeba_folder, tmp_path / "out", checkpoint=checkpoint, progress=False)
