"""Volumes with voxels larger than the model's are filled on the model's 1 mm grid (file, CLI and MONAI transform)."""

from __future__ import annotations

import dataclasses

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_volume
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting.model_grid import block_mean, grid_factors, model_voxel_mm, on_model_grid, upsample
from medinpaint.transforms import SemanticInpaint
from medinpaint.transforms.array import IntensityToUnit
from medinpaint.volume_inpainting import inpaint_volume


@pytest.fixture(scope="module")
def models():
    return load_models(device="cpu")


@pytest.fixture(scope="module")
def coarse_crop() -> tuple[np.ndarray, np.ndarray]:
    """A 2 mm stand-in: a held-out-slab crop of the sample block-averaged 2×2×2, with an ellipsoid hole of 5×4×4 voxels."""
    volume, _ = sample_volume()
    crop = block_mean(volume[60:140, 80:160, 96:136].astype(np.float64), (2, 2, 2)).astype(np.float32)
    grid = np.mgrid[tuple(slice(0, n) for n in crop.shape)]
    hole = sum(((grid[i] - c) / r) ** 2 for i, (c, r) in enumerate(zip((20, 20, 10), (5, 4, 4)))) <= 1
    return crop, hole


def test_grid_factors_split_only_axes_with_voxels_at_least_one_and_a_half_times_the_model():
    assert grid_factors((2.0, 2.0, 2.0), 1.0) == (2, 2, 2)
    assert grid_factors((0.94, 0.94, 3.0), 1.0) == (1, 1, 3)  # thick slices: through-plane only
    assert grid_factors((1.49, 1.5, 2.6), 1.0) == (1, 2, 3)
    assert grid_factors((0.5, 0.5, 0.5), 1.0) == (1, 1, 1)  # finer than the model: left as it is
    assert grid_factors((2.0, 2.0, 2.0), None) == (1, 1, 1)  # a model that does not know its voxel size
    assert grid_factors(None, 1.0) == (1, 1, 1)


def test_the_embedded_models_know_their_1_mm_voxels_and_others_do_not(models):
    assert model_voxel_mm(models) == 1.0
    elsewhere = dataclasses.replace(models, config=dataclasses.replace(models.config, data="/data/ct_series"))
    assert model_voxel_mm(elsewhere) is None


def test_upsampling_is_pixel_area_aligned_so_averaging_back_returns_a_smooth_volume(coarse_crop):
    smooth = np.fromfunction(lambda x, y, z: np.sin(x / 5) + np.cos(y / 7) * z / 9, (20, 18, 16))
    back = block_mean(upsample(smooth, (2, 3, 1)), (2, 3, 1))
    assert back.shape == smooth.shape
    assert np.abs(back - smooth)[2:-2, 2:-2, 2:-2].max() < 5e-3  # a corner-aligned zoom (scipy's default) is off by 0.08
    crop, hole = coarse_crop
    results = on_model_grid(lambda v, k: {"volume": v, "known": k}, crop, (~hole).astype(np.float32), crop, (2, 2, 2), context=32)
    assert np.all(results["known"][hole] == 0) and np.all(results["volume"][~hole] == 0)  # the hole's children are the fine hole


def test_a_2_mm_volume_is_filled_on_the_1_mm_grid_and_known_voxels_stay_bit_identical(models, coarse_crop):
    crop, hole = coarse_crop
    known = (~hole).astype(np.float32)
    intensity = IntensityToUnit.for_mr(crop, 0.5, 99.5)
    own = inpaint_volume(crop, known, models, intensity, method="network")
    model_grid = inpaint_volume(crop, known, models, intensity, method="network", spacing=(2.0, 2.0, 2.0))
    one_mm = inpaint_volume(crop, known, models, intensity, method="network", spacing=(1.0, 1.0, 1.0))
    assert np.array_equal(one_mm.filled, own.filled)  # 1 mm voxels: the fill as before, bit for bit
    for fill in (own, model_grid):
        assert np.array_equal(fill.filled[~hole], crop[~hole]) and np.isfinite(fill.filled).all()
    assert np.abs(model_grid.filled[hole] - own.filled[hole]).mean() > 1.0
    assert np.all(model_grid.uncertainty[~hole] == 0) and model_grid.uncertainty[hole].max() > 0
    assert sorted(model_grid.axis_raw) == [0, 1, 2] and np.array_equal(model_grid.axis_raw[2][~hole], crop[~hole])


def test_the_file_and_the_monai_transform_read_the_voxel_size_from_the_affine(tmp_path, models, coarse_crop):
    crop, hole = coarse_crop
    filled = {}
    for name, sizes in (("2mm", (2.0, 2.0, 2.0)), ("1mm", (1.0, 1.0, 1.0))):
        affine = np.diag([*sizes, 1.0])
        nib.save(nib.Nifti1Image(crop, affine), tmp_path / f"{name}.nii.gz")
        nib.save(nib.Nifti1Image(hole.astype(np.uint8), affine), tmp_path / f"{name}_mask.nii.gz")
        report = inpaint_file(tmp_path / f"{name}.nii.gz", str(tmp_path / f"{name}_mask.nii.gz"), tmp_path / f"{name}_out.nii.gz", models=models, progress=False)
        assert report.model_grid == (grid_factors(sizes, 1.0))
        assert ("model's voxel grid" in str(report)) == (name == "2mm")
        filled[name] = np.asanyarray(nib.load(tmp_path / f"{name}_out.nii.gz").dataobj)
        assert np.array_equal(filled[name][~hole], crop[~hole])
    assert np.abs(filled["2mm"][hole] - filled["1mm"][hole]).mean() > 1.0
    transform = SemanticInpaint(axis=2, device="cpu")
    image = MetaTensor(torch.from_numpy(crop)[None], affine=torch.from_numpy(np.diag([2.0, 2.0, 2.0, 1.0])))
    result = transform(image, torch.from_numpy(hole)[None])
    assert np.allclose(result[0].numpy(), filled["2mm"], atol=1e-3)
