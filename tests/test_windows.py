"""Windows at the hole's scale and the in-memory native inpainting path."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from monai.data import create_test_image_2d

from medinpaint.checkpoint import load_models
from medinpaint.errors import MedinpaintError
from medinpaint.inpainting import SearchConfig
from medinpaint.native_inpainting import inpaint_native
from medinpaint.transforms.array import IntensityToUnit
from medinpaint.windows import WindowConfig, crop_windows, hole_windows, paste_windows

FAST = SearchConfig(iterations=3, restarts=2)


def disks(shape, centres, radius):
    """Known mask (1, 1, H, W) with disks of ``radius`` missing at ``centres``."""
    rows, cols = torch.meshgrid(torch.arange(shape[0]), torch.arange(shape[1]), indexing="ij")
    known = torch.ones(1, 1, *shape)
    for r, c in centres:
        known[0, 0][(rows - r) ** 2 + (cols - c) ** 2 <= radius**2] = 0
    return known


def covered(windows, shape):
    cover = torch.zeros(shape, dtype=torch.bool)
    for w in windows:
        cover[w.image, 0, max(w.top, 0) : w.top + w.side, max(w.left, 0) : w.left + w.side] = True
    return cover


@pytest.mark.parametrize("radius", [3, 6, 12, 40])
def test_windows_cover_every_hole_and_bound_its_share(radius):
    known = disks((181, 217), [(90, 110)], radius)
    config = WindowConfig()
    windows = hole_windows(known, config)
    assert covered(windows, known.shape)[known < 0.5].all()
    for window in windows:
        assert window.side >= config.min_side
        missing = (known[0, 0, max(window.top, 0) : window.top + window.side, max(window.left, 0) : window.left + window.side] < 0.5).sum()
        assert missing / window.side**2 <= config.max_share + 1e-6


def test_every_hole_is_covered_when_windows_overlap():
    known = disks((181, 217), [(60, 60), (120, 150), (30, 190)], 25)
    assert covered(hole_windows(known), known.shape)[known < 0.5].all()


def test_close_holes_share_one_window_and_far_ones_do_not():
    assert len(hole_windows(disks((181, 217), [(60, 60), (60, 72)], 3))) == 1
    assert len(hole_windows(disks((181, 217), [(40, 40), (140, 180)], 3))) == 2


def test_smallest_scale_is_native_resolution():
    windows = hole_windows(disks((181, 217), [(90, 100)], 3))
    assert [w.side for w in windows] == [64]  # 1 native pixel per grid pixel


def test_crop_then_paste_is_exact_at_native_scale():
    image = torch.from_numpy(create_test_image_2d(181, 217, num_objs=6, random_state=np.random.RandomState(0))[0]).float()[None, None]
    unit = image * 2 - 1
    known = disks((181, 217), [(90, 100)], 6)
    windows = hole_windows(known)
    grid, grid_known = crop_windows(unit, known, windows)
    assert tuple(grid.shape) == (1, 1, 64, 64)
    assert int((grid_known < 0.5).sum()) == int((known < 0.5).sum())  # same pixels missing on the grid
    pasted = paste_windows(grid, windows, torch.zeros_like(unit))
    inside = covered(windows, unit.shape) & (known > 0.5)
    assert torch.equal(pasted[inside], unit[inside])


def test_window_bigger_than_the_slice_is_padded_not_cropped():
    known = torch.ones(1, 1, 50, 40)
    known[..., 10:40, 5:35] = 0
    windows = hole_windows(known)
    assert windows[0].side > 50
    grid, grid_known = crop_windows(torch.zeros(1, 1, 50, 40), known, windows)
    assert grid.shape[-1] == 64 and bool((grid_known > 0.5).any())


@pytest.fixture(scope="module")
def models():
    return load_models(device="cpu")


@pytest.mark.parametrize("grid", ["windows", "slices"])
def test_native_fill_keeps_known_pixels_and_restricts_uncertainty(models, grid):
    native = torch.from_numpy(create_test_image_2d(120, 100, num_objs=5, random_state=np.random.RandomState(1))[0]).float()[None, None] * 200
    native = native.repeat(2, 1, 1, 1)
    known = disks((120, 100), [(40, 50)], 6).repeat(2, 1, 1, 1)
    known[1, 0, 80:90, 20:30] = 0
    fill = inpaint_native(native, known, models, IntensityToUnit(0, 200), FAST, grid=grid, estimate="mean")
    assert torch.equal(fill.filled[known.bool()], native[known.bool()])
    assert fill.uncertainty[known.bool()].abs().max() == 0
    assert fill.uncertainty[~known.bool()].max() > 0  # two restarts disagree somewhere
    assert fill.windows == (3 if grid == "windows" else 2)
    assert tuple(fill.loss.shape) == (2,) and bool((fill.iterations > 0).all())


def test_mean_and_best_estimates_differ_with_several_restarts(models):
    native = torch.full((1, 1, 90, 90), 100.0)
    known = disks((90, 90), [(45, 45)], 8)
    best = inpaint_native(native, known, models, IntensityToUnit(0, 200), FAST, estimate="best")
    mean = inpaint_native(native, known, models, IntensityToUnit(0, 200), FAST, estimate="mean")
    assert not torch.equal(best.raw, mean.raw)
    assert torch.equal(best.filled[known.bool()], mean.filled[known.bool()])


def test_bad_grid_and_complete_slices_are_refused(models):
    native, known = torch.zeros(1, 1, 32, 32), torch.ones(1, 1, 32, 32)
    with pytest.raises(MedinpaintError, match="unknown grid 'tiles': use one of windows, slices"):
        inpaint_native(native, known, models, IntensityToUnit(0, 1), grid="tiles")
    with pytest.raises(MedinpaintError, match="must have missing pixels"):
        inpaint_native(native, known, models, IntensityToUnit(0, 1))
    known[..., 4:8, 4:8] = 0
    with pytest.raises(MedinpaintError, match="unknown fill estimate 'median'"):
        inpaint_native(native, known, models, IntensityToUnit(0, 1), FAST, estimate="median")


@pytest.mark.parametrize(("grid", "default"), [("windows", True), ("slices", False)])
def test_restarts_see_flipped_windows_by_default_and_whole_slices_as_they_are(models, grid, default):
    native = torch.from_numpy(create_test_image_2d(96, 96, num_objs=6, random_state=np.random.RandomState(2))[0]).float()[None, None] * 200
    known = disks((96, 96), [(40, 52)], 6)
    fills = {
        flag: inpaint_native(native, known, models, IntensityToUnit(0, 200), replace(FAST, flip_restarts=flag), grid=grid, estimate="mean")
        for flag in (None, True, False)
    }
    assert torch.equal(fills[None].raw, fills[default].raw)
    assert not torch.equal(fills[True].raw, fills[False].raw)
    assert torch.equal(fills[True].filled[known.bool()], native[known.bool()])
