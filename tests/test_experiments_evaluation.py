"""The evaluation harness: medinpaint and the baselines on the same inputs, every row with its protocol."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from monai.data import create_test_image_2d

from medinpaint.errors import MedinpaintError
from medinpaint.experiments.evaluation import best_baseline, corrupt_batch, evaluate_inpainting
from medinpaint.inpainting import SearchConfig
from medinpaint.metrics.niqe import fit_niqe
from medinpaint.networks import Discriminator, Generator, init_dcgan_weights

SEARCH = SearchConfig(iterations=3, seed=0)
PROTOCOL_KEYS = {"method", "output", "region", "metric", "value", "std", "n_images", "note"}


def _images(count: int, seed: int) -> torch.Tensor:
    """MONAI's synthetic 2-D test images (circles on noise), scaled to [-1, 1]."""
    images = [create_test_image_2d(64, 64, num_objs=6, noise_max=0.3, random_state=np.random.RandomState(seed + i))[0] for i in range(count)]
    stacked = torch.as_tensor(np.stack(images), dtype=torch.float32)[:, None]
    return (stacked / stacked.amax(dim=(1, 2, 3), keepdim=True)) * 2 - 1


@pytest.fixture(scope="module")
def networks():
    torch.manual_seed(0)
    generator, discriminator = Generator(nz=16, ngf=4, nc=1), Discriminator(ndf=4, nc=1)
    generator.apply(init_dcgan_weights)
    discriminator.apply(init_dcgan_weights)
    return generator.eval(), discriminator.eval()


@pytest.fixture(scope="module")
def batch():
    masks = {spec: spec for spec in ("quarter", "dropout:0.5")}
    return corrupt_batch(_images(2, seed=1), masks, seed=0)


@pytest.fixture(scope="module")
def evaluation(networks, batch):
    truth, known, labels = batch
    niqe_model = fit_niqe(_images(8, seed=100), fitted_on="MONAI synthetic test images")
    return evaluate_inpainting(truth, known, *networks, SEARCH, labels=labels, niqe_model=niqe_model)


def test_corrupt_batch_pairs_every_image_with_every_mask_kind(batch):
    truth, known, labels = batch
    assert truth.shape == (4, 1, 64, 64) and known.shape == (4, 1, 64, 64)
    assert [label["mask"] for label in labels] == ["quarter", "quarter", "dropout:0.5", "dropout:0.5"]
    assert torch.equal(truth[0], truth[2]) and torch.equal(known[0], known[1])
    assert not torch.equal(known[2], known[3])  # an independent draw per image


def test_corrupt_batch_is_seeded():
    images = _images(2, seed=1)
    masks = {"d": "dropout:0.5"}
    assert torch.equal(corrupt_batch(images, masks, seed=4)[1], corrupt_batch(images, masks, seed=4)[1])
    assert not torch.equal(corrupt_batch(images, masks, seed=4)[1], corrupt_batch(images, masks, seed=5)[1])


def test_every_row_carries_its_protocol(evaluation):
    for row in evaluation.rows:
        assert PROTOCOL_KEYS <= set(row) and row["mask"] in ("quarter", "dropout:0.5")
    pairs = {(row["method"], row["output"]) for row in evaluation.rows}
    assert pairs == {("medinpaint", "blended"), ("medinpaint", "raw"), ("biharmonic", "blended"),
                     ("telea", "blended"), ("navier-stokes", "blended"), ("truth", "original")}
    medinpaint_psnr = {(r["output"], r["region"]) for r in evaluation.rows if r["method"] == "medinpaint" and r["metric"] == "psnr"}
    assert medinpaint_psnr == {("blended", "whole"), ("blended", "hole"), ("raw", "whole"), ("raw", "hole")}


def test_values_are_means_over_each_group(evaluation):
    psnr = [r for r in evaluation.rows if (r["method"], r["output"], r["region"], r["metric"]) == ("telea", "blended", "hole", "psnr")]
    assert len(psnr) == 2 and all(r["n_images"] == 2 and math.isfinite(r["value"]) for r in psnr)
    # blended outputs keep the known pixels, so their whole-image PSNR beats the hole PSNR
    whole = {r["mask"]: r["value"] for r in evaluation.rows if (r["method"], r["output"], r["region"], r["metric"]) == ("telea", "blended", "whole", "psnr")}
    assert all(whole[r["mask"]] > r["value"] for r in psnr)


def test_psnr_means_are_over_the_same_images(networks):
    # the second image's hole lies on background (-1): the 8-bit baselines fill it exactly (infinite
    # PSNR), so that image is left out of every method's PSNR mean, medinpaint's too
    truth = _images(2, seed=3)
    truth[1, :, 8:40, 8:40] = -1.0
    known = torch.ones(2, 1, 64, 64)
    known[..., 16:32, 16:32] = 0
    rows = evaluate_inpainting(truth, known, *networks, SEARCH, baselines=("telea",)).rows
    hole = {r["method"]: r for r in rows if (r["output"], r["region"], r["metric"]) == ("blended", "hole", "psnr")}
    assert set(hole) == {"medinpaint", "telea"}
    assert all(r["note"] == "1 of 2 image(s) without a finite value skipped" for r in hole.values())
    own = evaluate_inpainting(truth[:1], known[:1], *networks, SEARCH, baselines=("telea",)).rows
    alone = {r["method"]: r["value"] for r in own if (r["output"], r["region"], r["metric"]) == ("blended", "hole", "psnr")}
    assert all(math.isfinite(r["value"]) and r["value"] == pytest.approx(alone[method]) for method, r in hole.items())


def test_no_reference_metrics(evaluation):
    nrqm = [r for r in evaluation.rows if r["metric"] == "nrqm"]
    assert nrqm and all(r["value"] is None and r["note"].startswith("NRQM unavailable") for r in nrqm)
    niqe = [r for r in evaluation.rows if r["metric"] == "niqe"]
    assert {r["method"] for r in niqe} == {"medinpaint", "biharmonic", "telea", "navier-stokes", "truth"}
    assert all(r["value"] >= 0 for r in niqe if r["output"] == "blended" or r["method"] == "truth")
    # the untrained G draws flat images, for which NIQE is undefined: NaN, and the note says so
    assert all(r["note"] == "2 of 2 image(s) without a finite value skipped" for r in niqe if r["output"] == "raw")


def test_outputs_keep_known_pixels_and_inputs_hide_missing_ones(evaluation):
    known = evaluation.known.bool().expand_as(evaluation.truth)
    assert torch.equal(evaluation.corrupted[~known], torch.zeros(int((~known).sum())))
    for (method, output), images in evaluation.outputs.items():
        assert images.shape == evaluation.truth.shape and torch.isfinite(images).all()
        if output == "blended":
            assert torch.equal(images[known], evaluation.truth[known]), method


def test_same_seed_same_numbers(networks, batch, evaluation):
    truth, known, labels = batch
    again = evaluate_inpainting(truth, known, *networks, SEARCH, labels=labels,
                                niqe_model=fit_niqe(_images(8, seed=100)))
    def numbers(rows):
        return [(r["mask"], r["method"], r["output"], r["region"], r["metric"], r["value"]) for r in rows if r["metric"] != "seconds"]
    assert numbers(again.rows) == numbers(evaluation.rows)


def test_extra_blend_reuses_the_search(networks, batch):
    truth, known, _ = batch
    result = evaluate_inpainting(truth[:1], known[:1], *networks, SEARCH, baselines=("telea",), extra_blends=("sobel-adam",))
    assert ("medinpaint-sobel-adam", "blended") in result.outputs
    assert {r["method"] for r in result.rows} == {"medinpaint", "medinpaint-sobel-adam", "telea", "truth"}


def test_best_baseline_is_the_highest_hole_psnr(evaluation):
    for mask in ("quarter", "dropout:0.5"):
        best = best_baseline(evaluation.rows, {"mask": mask})
        values = {r["method"]: r["value"] for r in evaluation.rows
                  if r["mask"] == mask and r["region"] == "hole" and r["metric"] == "psnr" and r["output"] == "blended"}
        assert values[best] == max(v for m, v in values.items() if m != "medinpaint")


def test_missing_nrqm_model_file_is_refused(networks, batch, tmp_path):
    truth, known, _ = batch
    with pytest.raises(MedinpaintError, match="NRQM model file .* not found"):
        evaluate_inpainting(truth, known, *networks, SEARCH, nrqm_model=tmp_path / "model.mat")
