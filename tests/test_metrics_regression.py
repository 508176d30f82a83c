"""PSNR/SSIM over whole image and hole, checked against scikit-image and hand computations.

MONAI computes SSIM in float32; on MRI's flat background that costs ~5e-5 against
scikit-image's float64, hence SSIM_TOLERANCE.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from medinpaint.data.sample import sample_slices
from medinpaint.errors import MedinpaintError
from medinpaint.metrics.regression import InpaintingPSNRMetric, InpaintingSSIMMetric, masked_psnr, masked_ssim

SSIM_TOLERANCE = 2e-4


@pytest.fixture(scope="module")
def mri() -> torch.Tensor:
    return sample_slices("heldout")[:4]


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """Two 64×64 RGB crops of the astronaut, (2, 3, 64, 64) in [-1, 1]."""
    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float() / 127.5 - 1
    return torch.stack([image[:, 100:356:4, 150:406:4], image[:, 0:256:4, 256:512:4]])


def _degrade(images: torch.Tensor, seed: int) -> torch.Tensor:
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed))
    return (images + 0.1 * noise).clamp(-1, 1)


def _known(n: int, seed: int) -> torch.Tensor:
    """Central square hole plus scattered missing pixels, touching the border too."""
    rng = torch.Generator().manual_seed(seed)
    known = (torch.rand(n, 1, 64, 64, generator=rng) > 0.1).float()
    known[..., 20:44, 16:40] = 0
    known[..., 0:5, 60:64] = 0
    return known


@pytest.mark.parametrize("which", ["mri", "photo"])
def test_whole_scores_match_scikit_image(which: str, request: pytest.FixtureRequest) -> None:
    truth = request.getfixturevalue(which)
    output = _degrade(truth, seed=1)
    psnr = masked_psnr(output, truth).flatten()
    ssim = masked_ssim(output, truth).flatten()
    for i in range(len(truth)):
        t, o = truth[i].double().numpy(), output[i].double().numpy()
        assert psnr[i].item() == pytest.approx(peak_signal_noise_ratio(t, o, data_range=2), abs=1e-4)
        expected = structural_similarity(t, o, win_size=7, data_range=2, channel_axis=0, use_sample_covariance=False)
        assert ssim[i].item() == pytest.approx(expected, abs=SSIM_TOLERANCE)


@pytest.mark.parametrize("which", ["mri", "photo"])
def test_hole_scores_match_hand_computation(which: str, request: pytest.FixtureRequest) -> None:
    truth = request.getfixturevalue(which)
    output = _degrade(truth, seed=2)
    known = _known(len(truth), seed=3)
    psnr = masked_psnr(output, truth, known, "hole").flatten()
    ssim = masked_ssim(output, truth, known, "hole").flatten()
    for i in range(len(truth)):
        t, o = truth[i].double().numpy(), output[i].double().numpy()
        hole = np.broadcast_to(known[i].numpy() == 0, t.shape)
        mse = ((t - o)[hole] ** 2).mean()
        assert psnr[i].item() == pytest.approx(10 * math.log10(4 / mse), abs=1e-4)
        _, full = structural_similarity(
            t, o, win_size=7, data_range=2, channel_axis=0, use_sample_covariance=False, full=True
        )
        assert ssim[i].item() == pytest.approx(full[hole].mean(), abs=SSIM_TOLERANCE)


def test_hole_psnr_is_whole_psnr_undiluted(mri: torch.Tensor) -> None:
    known = _known(len(mri), seed=4)
    output = torch.where(known.bool(), mri, _degrade(mri, seed=5))  # errors only in the hole
    hole_fraction = (1 - known).flatten(1).mean(1)
    whole = masked_psnr(output, mri, known, "whole").flatten()
    hole = masked_psnr(output, mri, known, "hole").flatten()
    torch.testing.assert_close(hole, whole + 10 * torch.log10(hole_fraction), atol=1e-3, rtol=0)
    assert (hole < whole).all()


def test_cumulative_metric_aggregates_batches_and_resets(photo: torch.Tensor, mri: torch.Tensor) -> None:
    metric = InpaintingPSNRMetric(region="hole")
    known = _known(2, seed=6)
    first = metric(y_pred=_degrade(photo, 7), y=photo, mask=known)
    second = metric(y_pred=_degrade(photo, 8), y=photo, mask=known)
    assert first.shape == (2, 1)
    assert metric.aggregate().item() == pytest.approx(torch.cat([first, second]).mean().item(), abs=1e-5)
    metric.reset()
    ssim = InpaintingSSIMMetric(region="whole", reduction="none")
    ssim(y_pred=mri, y=mri, mask=None)
    torch.testing.assert_close(ssim.aggregate(), torch.ones(len(mri), 1))


def test_empty_hole_is_nan_and_skipped_by_aggregate(photo: torch.Tensor) -> None:
    known = _known(2, seed=9)
    known[1] = 1  # the second image has nothing to fill
    metric = InpaintingSSIMMetric(region="hole")
    values = metric(y_pred=_degrade(photo, 10), y=photo, mask=known).flatten()
    assert not math.isnan(values[0].item()) and math.isnan(values[1].item())
    assert metric.aggregate().item() == pytest.approx(values[0].item())


def test_bad_inputs_raise_clear_errors(photo: torch.Tensor) -> None:
    with pytest.raises(MedinpaintError, match="region 'holes' is not one of"):
        InpaintingPSNRMetric(region="holes")
    with pytest.raises(MedinpaintError, match="region 'hole' needs mask"):
        masked_psnr(photo, photo, None, "hole")
    with pytest.raises(MedinpaintError, match=r"mask has shape \(2, 3, 64, 64\)"):
        InpaintingSSIMMetric()(y_pred=photo, y=photo, mask=torch.ones(2, 3, 64, 64))
    with pytest.raises(MedinpaintError, match="must both be"):
        masked_ssim(photo[:1], photo)
    with pytest.raises(MedinpaintError, match="must be odd"):
        masked_ssim(photo, photo, win_size=8)
