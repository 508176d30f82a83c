"""Thick-slice volumes are filled on a finer, near-isotropic grid (library, file, MONAI transform)."""

from __future__ import annotations

import dataclasses

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_volume
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting.detail import DETAIL_GAIN, restore_detail
from medinpaint.inpainting.fill_grid import MAX_FINE_HOLE, FillGrid, block_mean, grid_factors, model_grid_zooms, model_voxel_mm, on_finer_grid, upsample
from medinpaint.transforms import SemanticInpaint
from medinpaint.transforms.array import IntensityToUnit
from medinpaint.volume_inpainting import inpaint_volume

THICK = (1.0, 1.0, 3.0)


@pytest.fixture(scope="module")
def models():
    return load_models(device="cpu")


@pytest.fixture(scope="module")
def thick_crop() -> tuple[np.ndarray, np.ndarray]:
    """A 1 × 1 × 3 mm stand-in: a held-out-slab crop of the sample averaged over 3 axial slices, with an ellipsoid hole of 9×8×3 voxels."""
    volume, _ = sample_volume()
    crop = block_mean(volume[70:130, 90:150, 96:138].astype(np.float64), (1, 1, 3)).astype(np.float32)
    grid = np.mgrid[tuple(slice(0, n) for n in crop.shape)]
    hole = sum(((grid[i] - c) / r) ** 2 for i, (c, r) in enumerate(zip((30, 30, 7), (9, 8, 3)))) <= 1
    return crop, hole


def test_grid_factors_split_only_thick_axes_toward_the_finest_voxel_and_never_below_the_model():
    assert grid_factors((0.94, 0.94, 3.0), 1.0) == (1, 1, 3)  # thick slices: through-plane only
    assert grid_factors((2.0, 2.0, 6.0), 1.0) == (1, 1, 3)  # toward the finest voxel (2 mm), not the model's
    assert grid_factors((0.5, 0.5, 5.0), 1.0) == (1, 1, 5)  # never finer than the model's 1 mm
    assert grid_factors((1.0, 1.4, 2.6), 1.0) == (1, 1, 3)  # 1.4 < 1.5 × 1 mm: left as it is
    assert grid_factors((2.0, 2.0, 2.0), 1.0) == (1, 1, 1)  # isotropic: on its own grid
    assert grid_factors((1.0, 1.0, 3.0), None) == (1, 1, 3)  # a model that does not know its voxel size
    assert grid_factors(None, 1.0) == (1, 1, 1)
    # a hole too large for the finer grid's 3-D solve: the largest factor comes down until it fits
    assert grid_factors((0.5, 0.5, 5.0), 1.0, hole_voxels=14_000) == (1, 1, 5)
    assert grid_factors((0.5, 0.5, 5.0), 1.0, hole_voxels=30_000) == (1, 1, 4)
    assert grid_factors((1.0, 3.0, 3.0), 1.0, hole_voxels=20_000) == (1, 2, 3)
    assert grid_factors((1.0, 1.0, 3.0), 1.0, hole_voxels=MAX_FINE_HOLE) == (1, 1, 1)


def test_the_embedded_models_know_their_1_mm_voxels_and_others_do_not(models):
    assert model_voxel_mm(models) == 1.0
    elsewhere = dataclasses.replace(models, config=dataclasses.replace(models.config, data="/data/ct_series"))
    assert model_voxel_mm(elsewhere) is None


def test_upsampling_is_pixel_area_aligned_so_averaging_back_returns_a_smooth_volume(thick_crop):
    smooth = np.fromfunction(lambda x, y, z: np.sin(x / 5) + np.cos(y / 7) * z / 9, (20, 18, 16))
    back = block_mean(upsample(smooth, (2, 3, 1)), (2, 3, 1))
    assert back.shape == smooth.shape
    assert np.abs(back - smooth)[2:-2, 2:-2, 2:-2].max() < 5e-3  # a corner-aligned zoom (scipy's default) is off by 0.08
    crop, hole = thick_crop
    results = on_finer_grid(lambda v, k: {"volume": v, "known": k}, crop, (~hole).astype(np.float32), crop, (1, 1, 3), context=32)
    assert np.all(results["known"][hole] == 0) and np.all(results["volume"][~hole] == 0)  # the hole's children are the fine hole


def test_thick_slices_are_filled_on_the_finer_grid_and_known_voxels_stay_bit_identical(models, thick_crop):
    crop, hole = thick_crop
    known = (~hole).astype(np.float32)
    intensity = IntensityToUnit.for_mr(crop, 0.5, 99.5)
    own = inpaint_volume(crop, known, models, intensity, method="network")
    finer = inpaint_volume(crop, known, models, intensity, method="network", spacing=THICK)
    at_model_voxels = inpaint_volume(crop, known, models, intensity, method="network", spacing=(1.0, 1.0, 1.0))
    coarse = inpaint_volume(crop, known, models, intensity, method="network", spacing=(2.0, 2.0, 2.0))
    assert np.array_equal(at_model_voxels.filled, own.filled)  # the model's 1 mm voxels: the fill as before, bit for bit
    assert np.array_equal(coarse.raw, own.raw)  # isotropic 2 mm voxels are filled on their own grid ...
    assert np.array_equal(coarse.filled, restore_detail(own.raw, known, DETAIL_GAIN, (0.5, 0.5, 0.5)))  # ... sharpened over 1 mm
    assert not np.array_equal(coarse.filled, own.filled)
    for fill in (own, finer):
        assert np.array_equal(fill.filled[~hole], crop[~hole]) and np.isfinite(fill.filled).all()
    assert np.abs(finer.filled[hole] - own.filled[hole]).mean() > 1.0
    assert np.all(finer.uncertainty[~hole] == 0) and finer.uncertainty[hole].max() > 0
    assert sorted(finer.axis_raw) == [0, 1, 2] and np.array_equal(finer.axis_raw[2][~hole], crop[~hole])


def test_voxels_finer_than_the_models_are_filled_on_its_grid(models, thick_crop):
    crop, hole = thick_crop
    known = (~hole).astype(np.float32)
    intensity = IntensityToUnit.for_mr(crop, 0.5, 99.5)
    own = inpaint_volume(crop, known, models, intensity, method="network")
    slightly_finer = inpaint_volume(crop, known, models, intensity, method="network", spacing=(0.9, 0.9, 0.9))
    finer = inpaint_volume(crop, known, models, intensity, method="network", spacing=(0.7, 0.7, 0.7))
    assert model_grid_zooms((0.9, 0.9, 0.9), 1.0) is None and np.array_equal(slightly_finer.filled, own.filled)
    assert np.array_equal(finer.filled[~hole], crop[~hole]) and np.isfinite(finer.filled).all()
    assert np.abs(finer.filled[hole] - own.filled[hole]).mean() > 0.5  # the network saw the anatomy at its own scale
    assert np.all(finer.uncertainty[~hole] == 0) and finer.uncertainty[hole].max() > 0
    tiny = inpaint_volume(crop, known, models, intensity, method="network", spacing=(0.01, 0.01, 0.01))  # the box is one model voxel
    assert np.array_equal(tiny.filled, own.filled)  # so it is filled on its own grid
    assert (own.grid, slightly_finer.grid, finer.grid, tiny.grid) == (FillGrid(), FillGrid(), FillGrid(zooms=(0.7, 0.7, 0.7)), FillGrid())


def test_the_file_and_the_monai_transform_read_the_voxel_size_from_the_affine(tmp_path, models, thick_crop):
    crop, hole = thick_crop
    filled = {}
    for name, sizes in (("thick", THICK), ("isotropic", (1.0, 1.0, 1.0)), ("fine", (0.7, 0.7, 0.7)), ("tiny", (0.01, 0.01, 0.01))):
        affine = np.diag([*sizes, 1.0])
        nib.save(nib.Nifti1Image(crop, affine), tmp_path / f"{name}.nii.gz")
        nib.save(nib.Nifti1Image(hole.astype(np.uint8), affine), tmp_path / f"{name}_mask.nii.gz")
        report = inpaint_file(tmp_path / f"{name}.nii.gz", str(tmp_path / f"{name}_mask.nii.gz"), tmp_path / f"{name}_out.nii.gz", models=models, progress=False)
        assert report.fill_grid == grid_factors(sizes, 1.0, int(hole.sum()))
        assert ("finer grid" in str(report)) == (name == "thick")
        assert ("model's voxels: axes zoomed 0.70 × 0.70 × 0.70" in str(report)) == (name == "fine")
        assert ("model's voxels" in str(report)) == (name == "fine")  # a tiny volume of tiny voxels stays on its own grid
        filled[name] = np.asanyarray(nib.load(tmp_path / f"{name}_out.nii.gz").dataobj)
        assert np.array_equal(filled[name][~hole], crop[~hole])
    assert np.abs(filled["thick"][hole] - filled["isotropic"][hole]).mean() > 1.0
    transform = SemanticInpaint(axis=2, device="cpu")
    image = MetaTensor(torch.from_numpy(crop)[None], affine=torch.from_numpy(np.diag([*THICK, 1.0])))
    result = transform(image, torch.from_numpy(hole)[None])
    assert np.allclose(result[0].numpy(), filled["thick"], atol=1e-3)


def test_a_voxel_size_that_is_not_positive_gets_a_clear_error(models, thick_crop):
    crop, hole = thick_crop
    intensity = IntensityToUnit.for_mr(crop, 0.5, 99.5)
    for spacing in ((1.0, 1.0, 0.0), (1.0, float("nan"), 1.0), (1.0, 1.0)):
        with pytest.raises(MedinpaintError, match=r"is not three positive millimetre sizes: fix the image's affine"):
            inpaint_volume(crop, (~hole).astype(np.float32), models, intensity, method="network", spacing=spacing)
