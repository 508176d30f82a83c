"""evaluate(): one row per (method, output kind, region, metric), values from the metric classes."""

from __future__ import annotations

import math

import pytest
import torch

from medinpaint.baselines import inpaint_baseline
from medinpaint.data.sample import sample_slices
from medinpaint.errors import MedinpaintError
from medinpaint.metrics.evaluate import evaluate
from medinpaint.metrics.niqe import fit_niqe, niqe
from medinpaint.metrics.nrqm import NO_MODEL_REASON, NrqmMetric
from medinpaint.metrics.regression import masked_psnr, masked_ssim


@pytest.fixture(scope="module")
def case() -> tuple[torch.Tensor, torch.Tensor]:
    truth = sample_slices("heldout")[:3]
    known = torch.ones(3, 1, 64, 64)
    known[..., 20:44, 20:44] = 0
    return truth, known


def test_rows_carry_protocol_and_match_the_metrics(case) -> None:
    truth, known = case
    biharmonic_fill = inpaint_baseline("biharmonic", truth, known)
    raw = (truth + 0.1 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    rows = evaluate(truth, known, {"biharmonic": biharmonic_fill, ("medinpaint", "raw"): raw})
    assert {(r["method"], r["output"]) for r in rows} == {("biharmonic", "blended"), ("medinpaint", "raw")}
    assert len(rows) == 2 * 2 * 2  # methods × regions × (psnr, ssim)
    table = {(r["method"], r["region"], r["metric"]): r for r in rows}
    hole_psnr = masked_psnr(raw, truth, known, "hole").mean().item()
    assert table["medinpaint", "hole", "psnr"]["value"] == pytest.approx(hole_psnr, rel=1e-6)
    whole_ssim = masked_ssim(biharmonic_fill, truth, known, "whole").mean().item()
    assert table["biharmonic", "whole", "ssim"]["value"] == pytest.approx(whole_ssim, rel=1e-6)
    assert all(r["n"] == 3 and r["note"] == "" for r in rows)


def test_no_reference_rows(case) -> None:
    truth, known = case
    model = fit_niqe(sample_slices("train"), fitted_on="sample train slices")
    rows = evaluate(truth, known, {"truth": truth}, regions=("hole",), niqe_model=model, nrqm_metric=NrqmMetric())
    niqe_row = next(r for r in rows if r["metric"] == "niqe")
    assert niqe_row["region"] == "whole"
    assert niqe_row["value"] == pytest.approx(sum(niqe(image, model) for image in truth) / 3)
    nrqm_row = next(r for r in rows if r["metric"] == "nrqm")
    assert math.isnan(nrqm_row["value"]) and nrqm_row["n"] == 0 and nrqm_row["note"] == NO_MODEL_REASON


def test_unknown_output_kind_or_region_is_refused(case) -> None:
    truth, known = case
    with pytest.raises(MedinpaintError, match="output kind 'poisson' for 'medinpaint'"):
        evaluate(truth, known, {("medinpaint", "poisson"): truth})
    with pytest.raises(MedinpaintError, match="region 'mask' is not one of"):
        evaluate(truth, known, {"x": truth}, regions=("mask",))
