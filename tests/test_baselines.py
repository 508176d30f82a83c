"""Classical baselines: same inputs as medinpaint, known pixels untouched, sensible fills."""

from __future__ import annotations

import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage import data

from medinpaint.baselines import BASELINES, inpaint_baseline
from medinpaint.data.sample import sample_slices
from medinpaint.errors import MedinpaintError


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float() / 127.5 - 1
    return image[None, :, 100:356:4, 150:406:4].contiguous()


@pytest.fixture(scope="module")
def mri() -> torch.Tensor:
    return sample_slices("heldout")[:2]


def _known(n: int) -> torch.Tensor:
    known = torch.ones(n, 1, 64, 64)
    known[..., 24:40, 20:36] = 0
    known[..., 60:, :4] = 0  # a corner hole touching two borders
    return known


@pytest.mark.parametrize("name", BASELINES)
@pytest.mark.parametrize("which", ["photo", "mri"])
def test_known_pixels_are_kept_and_the_hole_filled(name: str, which: str, request: pytest.FixtureRequest) -> None:
    images = request.getfixturevalue(which)
    known = _known(len(images))
    poisoned = torch.where(known.bool(), images, torch.full_like(images, 7.0))  # hole content must not be read
    before = poisoned.clone()
    out = inpaint_baseline(name, poisoned, known)
    keep = known.bool().expand_as(images)
    assert torch.equal(out[keep], images[keep])
    assert torch.equal(poisoned, before)
    hole = out[~keep]
    assert torch.isfinite(hole).all() and hole.min() >= -1 and hole.max() <= 1
    assert out.dtype == images.dtype and out.shape == images.shape


@pytest.mark.parametrize("name", BASELINES)
def test_fill_error_is_small_on_a_smooth_image(name: str, photo: torch.Tensor) -> None:
    smooth = torch.from_numpy(gaussian_filter(photo.numpy(), (0, 0, 3, 3)))
    known = torch.ones(1, 1, 64, 64)
    known[..., 28:36, 24:32] = 0
    hole = ~known.bool().expand_as(smooth)
    error = (inpaint_baseline(name, smooth, known) - smooth)[hole].abs().mean().item()
    mean_fill_error = (smooth[hole] - smooth[~hole].mean()).abs().mean().item()
    # measured: biharmonic 0.006, telea 0.08, navier-stokes 0.05 (OpenCV's methods are coarser)
    assert error < 0.1
    assert error < 0.2 * mean_fill_error


@pytest.mark.parametrize("name", ["telea", "navier-stokes"])
def test_opencv_fill_lies_on_the_8_bit_grid(name: str, photo: torch.Tensor) -> None:
    known = _known(1)
    hole = ~known.bool().expand_as(photo)
    levels = (inpaint_baseline(name, photo.double(), known)[hole] + 1) * 127.5
    torch.testing.assert_close(levels, levels.round(), atol=1e-9, rtol=0)


def test_nothing_missing_returns_the_input(mri: torch.Tensor) -> None:
    for name in BASELINES:
        assert torch.equal(inpaint_baseline(name, mri, torch.ones(2, 1, 64, 64)), mri)


def test_bad_names_and_inputs_raise_clear_errors(mri: torch.Tensor) -> None:
    with pytest.raises(MedinpaintError, match="did you mean 'navier-stokes'"):
        inpaint_baseline("navier_stokes", mri, _known(2))
    with pytest.raises(MedinpaintError, match="unknown baseline 'poisson': .*choose one of biharmonic, telea"):
        inpaint_baseline("poisson", mri, _known(2))
    with pytest.raises(MedinpaintError, match=r"known mask must be a tensor \(N, 1, H, W\)"):
        inpaint_baseline("telea", mri, _known(2)[:, :, :32])
    with pytest.raises(MedinpaintError, match=r"C = 1 or 3, got \(2, 2, 64, 64\)"):
        inpaint_baseline("telea", mri.repeat(1, 2, 1, 1), _known(2))
    nothing_known = _known(2)
    nothing_known[1] = 0
    with pytest.raises(MedinpaintError, match=r"no known pixel in image\(s\) \[1\]"):
        inpaint_baseline("biharmonic", mri, nothing_known)
