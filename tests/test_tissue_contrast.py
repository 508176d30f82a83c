"""The network fill of an MR input maps its tissue classes onto the template's: on a real T1 and on the template."""

from __future__ import annotations

import dataclasses
import os

import nibabel as nib
import numpy as np
import pytest
import torch

from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_volume
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting.detail import DETAIL_GAIN
from medinpaint.normalisation import Normalisation
from medinpaint.tissue_contrast import TissueIntensityToUnit, reference_classes, tissue_class_means, tissue_intensity, tissue_voxels
from medinpaint.volume_inpainting import inpaint_volume

REAL_T1 = os.path.join(os.path.dirname(nib.__file__), "tests", "data", "anatomical.nii")


@pytest.fixture(scope="module")
def models():
    return load_models(device="cpu")


def percentile_map(values):
    return Normalisation.for_domain("mri").intensity_for(values)


def test_a_real_t1s_classes_land_where_the_template_put_its_own(models):
    volume = nib.load(REAL_T1).get_fdata().astype(np.float32)
    known = np.ones(volume.shape, bool)
    intensity = tissue_intensity(models, volume, known, percentile_map(volume))
    assert isinstance(intensity, TissueIntensityToUnit)
    means = torch.from_numpy(tissue_class_means(tissue_voxels(volume, known)))
    assert torch.allclose(intensity(means), torch.tensor(reference_classes(models), dtype=means.dtype), atol=1e-6)
    # the percentile scale puts them elsewhere: lower, and closer together at the bright end
    assert (percentile_map(volume)(means) < intensity(means) - 0.05).all()
    native = torch.linspace(0, intensity.high, 200)
    assert torch.allclose(intensity.inverse(intensity(native)), native, rtol=1e-5, atol=1e-2)


def test_the_template_itself_maps_about_as_its_percentiles_do(models):
    volume, _ = sample_volume()
    tissue = tissue_intensity(models, volume, np.ones(volume.shape, bool), percentile_map(volume))
    native = torch.linspace(0, float(np.percentile(volume, 99.5)), 300)
    assert (tissue(native) - percentile_map(volume)(native)).abs().max() < 0.01


def test_noise_in_the_background_does_not_move_the_template_classes(models):
    volume, _ = sample_volume()
    noisy = np.hypot(volume + np.random.default_rng(0).normal(0, 9.0, volume.shape), np.random.default_rng(1).normal(0, 9.0, volume.shape))
    everywhere = np.ones(volume.shape, bool)
    assert (noisy[volume == 0] > 0.1 * np.percentile(noisy, 99.5)).mean() > 0.01  # Rician noise lifts 1 % of the background
    clean, rough = (tissue_class_means(tissue_voxels(v, everywhere)) for v in (volume, noisy))
    assert np.abs(rough - clean).max() < 0.02 * clean[-1]


def test_the_reference_classes_follow_the_models_own_normalisation(models):
    volume, _ = sample_volume()
    means = torch.from_numpy(tissue_class_means(tissue_voxels(volume, np.ones(volume.shape, bool))))
    narrower = Normalisation.for_domain("mri", mr_percentiles=(2.0, 98.0))  # a template model trained with other percentiles
    other = dataclasses.replace(models, normalisation=narrower)
    expected = narrower.intensity_for(volume)(means).tolist()
    assert reference_classes(other) == pytest.approx(expected, abs=1e-6)
    assert reference_classes(models) == pytest.approx(percentile_map(volume)(means).tolist(), abs=1e-6)
    assert reference_classes(other)[-1] - reference_classes(models)[-1] > 0.02  # the same white matter lands higher


def test_models_not_trained_on_the_template_and_flat_inputs_keep_the_percentile_scale(models):
    volume = nib.load(REAL_T1).get_fdata().astype(np.float32)
    known = np.ones(volume.shape, bool)
    scale = percentile_map(volume)
    other = dataclasses.replace(models, config=dataclasses.replace(models.config, data="folder"))
    assert reference_classes(other) is None
    assert tissue_intensity(other, volume, known, scale) is scale
    flat = np.full(volume.shape, 500.0, np.float32)
    assert tissue_intensity(models, flat, known, scale) is scale


def test_the_command_line_fills_a_real_t1_on_the_tissue_scale_and_says_so(models, tmp_path):
    image = nib.load(REAL_T1)
    volume = image.get_fdata().astype(np.float32)
    hole = np.zeros(volume.shape, bool)
    hole[12:20, 16:24, 9:15] = True
    nib.save(nib.Nifti1Image(hole.astype(np.uint8), image.affine), tmp_path / "hole.nii.gz")
    report = inpaint_file(REAL_T1, str(tmp_path / "hole.nii.gz"), tmp_path / "filled.nii.gz", models=models, progress=False, mirror=False)  # the network fill, compared below; the guide: test_mirror_guide.py
    written = np.asarray(nib.load(tmp_path / "filled.nii.gz").dataobj, np.float32)
    assert np.array_equal(written[~hole], volume[~hole])
    assert np.allclose(report.tissue_classes, tissue_class_means(tissue_voxels(volume, ~hole)))
    assert "tissue classes" in str(report)
    known = (~hole).astype(np.float32)
    spacing = tuple(float(z) for z in image.header.get_zooms()[:3])
    scale = percentile_map(volume[~hole])
    fills = {
        name: inpaint_volume(volume, known, models, intensity, method="network", detail_gain=DETAIL_GAIN, spacing=spacing).filled
        for name, intensity in (("tissue", tissue_intensity(models, volume, ~hole, scale)), ("percentiles", scale))
    }
    assert np.abs(written[hole] - fills["tissue"][hole]).max() < 1e-2 * volume.max()
    assert np.abs(written[hole] - fills["percentiles"][hole]).mean() > 5 * np.abs(written[hole] - fills["tissue"][hole]).mean()


def test_the_spread_is_in_native_units_on_each_segment_of_the_map():
    t = TissueIntensityToUnit([100.0, 200.0, 300.0], [-0.2, 0.4, 0.8])
    unit = torch.tensor([-0.6, 0.0, 0.6, 0.9])
    step = 1e-3
    finite_difference = (t.inverse(unit + step) - t.inverse(unit)) / step
    assert torch.allclose(t.native_scale(unit), finite_difference, rtol=1e-3)
