"""inpaint_grid: known pixels kept, empty and full masks, channel mismatch."""

import pytest
import torch

from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.engine import inpaint_grid
from medinpaint.inpainting.search import SearchConfig
from medinpaint.networks import Discriminator, Generator

FAST = SearchConfig(iterations=4)


@pytest.fixture(scope="module")
def networks():
    torch.manual_seed(0)
    return Generator(nz=8, ngf=8, nc=1).eval(), Discriminator(ndf=8, nc=1).eval()


@pytest.fixture()
def corrupted():
    images = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    known = torch.ones(2, 1, 64, 64)
    known[0, :, 16:48, 16:48] = 0
    known[1, :, :, 32:] = 0
    return images, known


@pytest.mark.parametrize("method", ["poisson", "sobel-adam"])
def test_known_pixels_of_the_result_are_the_input_ones(networks, corrupted, method):
    images, known = corrupted
    result = inpaint_grid(images, known, *networks, FAST, blend=method)
    is_known = known.bool().expand_as(images)
    assert torch.equal(result.blended[is_known], images[is_known])
    assert not torch.equal(result.blended[~is_known], images[~is_known])
    assert result.raw.shape == images.shape and result.uncertainty.shape == known.shape
    assert result.z.shape == (2, 8) and result.iterations.tolist() == [4, 4]


def test_empty_mask_returns_the_input_without_searching(networks, corrupted):
    images, _ = corrupted
    result = inpaint_grid(images, torch.ones(2, 1, 64, 64), *networks, FAST)
    assert result.z.shape == (2, 0) and result.iterations.tolist() == [0, 0]
    assert torch.equal(result.blended, images) and result.blended is not images


def test_mask_covering_everything_is_refused(networks, corrupted):
    images, known = corrupted
    known[1] = 0
    with pytest.raises(MedinpaintError, match=r"mask covers the whole image \(image 1\)"):
        inpaint_grid(images, known, *networks, FAST)


def test_channel_mismatch_names_both_counts(networks, corrupted):
    images, known = corrupted
    with pytest.raises(MedinpaintError, match="images have 3 channel.*generator makes 1"):
        inpaint_grid(images.repeat(1, 3, 1, 1), known, *networks, FAST)


def test_mask_of_another_size_is_refused(networks, corrupted):
    images, _ = corrupted
    with pytest.raises(MedinpaintError, match=r"mask size \(32, 32\) differs from image size \(64, 64\)"):
        inpaint_grid(images, torch.ones(2, 1, 32, 32), *networks, FAST)
