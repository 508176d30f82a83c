"""GGD/AGGD moment-matching fits recover the parameters of samples drawn from known laws."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import gennorm

from medinpaint.errors import MedinpaintError
from medinpaint.metrics.scene_stats import aggd_fit, ggd_fit, luminance_255


@pytest.mark.parametrize("shape", [0.6, 1.0, 2.0, 4.0])
def test_ggd_fit_recovers_shape_row_by_row(shape: float) -> None:
    samples = gennorm.rvs(shape, scale=0.5, size=(3, 200_000), random_state=np.random.default_rng(0))
    fitted, variance = ggd_fit(samples)
    centred, _ = ggd_fit(samples + 3.0, centred=True)  # the centred variant ignores the offset
    assert fitted == pytest.approx([shape] * 3, rel=0.05)
    assert centred == pytest.approx([shape] * 3, rel=0.05)
    assert variance == pytest.approx((samples**2).mean(axis=1), rel=1e-9)


def test_aggd_fit_recovers_asymmetric_spreads() -> None:
    rng = np.random.default_rng(1)
    magnitude = np.abs(rng.normal(size=400_000))
    # shape-2 AGGD with σ_left 0.5, σ_right 2: half-normals weighted σ/(σ_left + σ_right)
    samples = np.where(rng.random(400_000) < 0.5 / 2.5, -0.5 * magnitude, 2.0 * magnitude)
    shape, mean, left, right = aggd_fit(samples[None])
    assert shape[0] == pytest.approx(2.0, rel=0.05)
    assert left[0] == pytest.approx(0.25, rel=0.02) and right[0] == pytest.approx(4.0, rel=0.02)
    assert mean[0] == pytest.approx(1.5 * np.sqrt(2 / np.pi), rel=0.05)  # (σr − σl)·√(2/π) for shape 2


def test_degenerate_rows_give_nan() -> None:
    shape, _ = ggd_fit(np.zeros((1, 50)))
    aggd_shape, *_ = aggd_fit(np.ones((1, 50)))  # no negative values
    assert np.isnan(shape[0]) and np.isnan(aggd_shape[0])


def test_luminance_scale_and_channels() -> None:
    rgb = torch.stack([torch.full((4, 4), v) for v in (1.0, -1.0, -1.0)])
    assert luminance_255(rgb)[0, 0] == pytest.approx(0.299 * 255)
    assert luminance_255(torch.full((1, 1, 4, 4), -1.0)).shape == (4, 4)
    with pytest.raises(MedinpaintError, match="C = 1 or 3"):
        luminance_255(torch.zeros(2, 4, 4))
