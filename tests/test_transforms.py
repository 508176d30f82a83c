"""The 64×64 grid transforms: intensity maps, geometry, normalised convolution, dict twins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medinpaint.errors import MedinpaintError
from medinpaint.transforms import GridRecord, IntensityToUnit, SquareResize, ToGrid
from medinpaint.transforms import functional as fn


def test_intensity_inverse_is_exact_on_unclipped_values():
    native = torch.linspace(-1000, 1000, 101).view(1, 1, 101)
    ct = IntensityToUnit.for_ct(0.0, 2000.0)
    assert torch.allclose(ct.inverse(ct(native)), native, atol=1e-3)
    assert torch.equal(ct(torch.tensor([[[-3000.0, 3000.0]]])), torch.tensor([[[-1.0, 1.0]]]))


def test_photo_and_mr_ranges():
    assert torch.equal(IntensityToUnit.for_photo()(torch.tensor([[[0.0, 255.0]]])), torch.tensor([[[-1.0, 1.0]]]))
    volume = np.concatenate([np.zeros(1000), np.linspace(0, 500, 1000), [np.nan]])
    mr = IntensityToUnit.for_mr(volume, 0.5, 99.5)
    finite = volume[np.isfinite(volume)]
    assert (mr.low, mr.high) == pytest.approx(tuple(np.percentile(finite, [0.5, 99.5])))


def test_bad_intensity_parameters():
    with pytest.raises(MedinpaintError, match="CT window width must be positive"):
        IntensityToUnit.for_ct(40, 0)
    with pytest.raises(MedinpaintError, match="image is \\(almost\\) constant"):
        IntensityToUnit.for_mr(np.ones(100), 0.5, 99.5)
    with pytest.raises(MedinpaintError, match="0 <= lower < upper <= 100"):
        fn.percentile_range(np.arange(10.0), 60, 40)


@pytest.mark.parametrize("shape", [(90, 70), (70, 90), (40, 40), (300, 200)])
def test_geometry_round_trip_on_a_smooth_image(shape):
    rows, cols = np.meshgrid(np.linspace(0, 1, shape[0]), np.linspace(0, 1, shape[1]), indexing="ij")
    native = torch.from_numpy(100 + 50 * np.sin(2 * rows) * np.cos(1.5 * cols)).float()[None]
    resize = SquareResize(64)
    grid = resize(native)
    assert grid.shape == (1, 64, 64)
    back = resize.inverse(grid, shape)
    assert back.shape == (1, *shape)
    error = (back - native).abs()
    assert error.max() < 3.0 and error.mean() < 0.3  # of a 100-wide range: the border is the worst


def test_padding_uses_the_image_minimum():
    native = torch.full((1, 64, 32), 7.0)
    native[0, 0, 0] = 3.0
    padded = fn.pad_to_square(native[None])
    assert padded.shape == (1, 1, 64, 64)
    assert padded[0, 0, :, :16].eq(3.0).all() and padded[0, 0, :, -16:].eq(3.0).all()


def test_to_grid_record_and_inverse(smooth_native):
    to_grid = ToGrid(IntensityToUnit.for_photo())
    record = to_grid.record(smooth_native)
    assert record == GridRecord((90, 70), 0.0, 255.0, 64)
    back = ToGrid.inverse(to_grid(smooth_native), record)
    error = (back - torch.from_numpy(smooth_native)).abs()
    assert error.max() < 5.0 and error.mean() < 0.5  # of a 200-wide range


def test_mask_to_grid_never_leaks_corrupted_values(smooth_native):
    native = torch.from_numpy(smooth_native)
    known = torch.ones(1, 90, 70)
    known[:, 30:60, 20:50] = 0
    corrupted = native.clone()
    corrupted[:, 30:60, 20:50] = float("nan")
    to_grid = ToGrid(IntensityToUnit.for_photo())
    clean_grid, clean_known = to_grid.with_mask(native, known)
    bad_grid, bad_known = to_grid.with_mask(corrupted, known)
    assert torch.isfinite(bad_grid).all()
    assert torch.equal(clean_known, bad_known)
    assert torch.equal(clean_grid, bad_grid)
    # all-known mask reproduces the plain forward pass
    full_grid, full_known = to_grid.with_mask(native, torch.ones(1, 90, 70))
    assert torch.allclose(full_grid, to_grid(native), atol=1e-6) and full_known.eq(1).all()


def test_known_threshold_is_half():
    img = torch.zeros(1, 128, 128)
    known = torch.ones(1, 128, 128)
    known[:, :, 0] = 0  # column 0: each 2×2 grid cell of columns 0-1 is half known -> known
    known[:, 0:2, 2:4] = 0  # one whole cell missing
    known[:, 2:4, 4:6] = 0
    known[:, 2, 4] = 1  # 1 of 4 known -> missing
    _, grid_known = ToGrid(IntensityToUnit(-1, 1)).with_mask(img, known)
    assert grid_known[0, :, 0].eq(1).all()
    assert grid_known[0, 0, 1] == 0 and grid_known[0, 1, 2] == 0
    assert grid_known.sum() == 64 * 64 - 2


def test_area_resize_is_monai_resize_and_to_unit_is_scale_intensity_range_within_one_ulp():
    """resize_area is MONAI's Resize(mode="area") bit for bit; to_unit stays ours: MONAI's
    ScaleIntensityRange computes in float32 and differs by up to one ulp (to_unit uses float64),
    which would change every known-pixel round trip."""
    from monai.transforms import Resize, ScaleIntensityRange

    images = torch.rand(3, 2, 181, 181, generator=torch.Generator().manual_seed(0)) * 900
    monai = torch.stack([torch.as_tensor(Resize((64, 64), mode="area")(image)).as_subclass(torch.Tensor) for image in images])
    assert torch.equal(fn.resize_area(images, 64), monai)
    scaled = torch.as_tensor(ScaleIntensityRange(a_min=10.0, a_max=800.0, b_min=-1.0, b_max=1.0, clip=True)(images))
    assert torch.allclose(scaled.as_subclass(torch.Tensor), fn.to_unit(images, 10.0, 800.0), atol=1.2e-7, rtol=0)
