"""The detail gain of the 3-D network fill: unsharp masking inside the hole, on the real template and through the CLI;
scaled down with the input's noise (the template, and the template given a real T1's Rician noise)."""

from __future__ import annotations


import nibabel as nib
import numpy as np
import pytest
from skimage.filters import unsharp_mask
from scipy import ndimage
from typer.testing import CliRunner

from conftest import benchmark_module
from medinpaint.checkpoint import load_models
from medinpaint.cli import app
from medinpaint.data.sample import sample_volume
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.inpainting.detail import (
    DETAIL_GAIN, NOISE_FREE, NOISE_NO_GAIN, check_detail_gain, hole_gain, noise_share, noisy_gain, restore_detail,
)  # fmt: skip
from medinpaint.transforms import SemanticInpaint
from medinpaint.transforms.array import IntensityToUnit
from medinpaint.volume_inpainting import inpaint_volume



@pytest.fixture(scope="module")
def crop_with_hole() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A crop of the template, an ellipsoid hole in it, and the 3-D biharmonic fill of that hole (a smooth fill)."""
    crop = sample_volume()[0][70:110, 90:130, 100:126].astype(np.float32)
    grid = np.mgrid[: crop.shape[0], : crop.shape[1], : crop.shape[2]]
    hole = sum(((grid[i] - c) / r) ** 2 for i, (c, r) in enumerate(zip((20, 20, 13), (8, 6, 5)))) <= 1
    known = (~hole).astype(np.float32)
    return crop, known, biharmonic_fill_3d(crop, known).astype(np.float32)


def fine_structure(volume: np.ndarray, hole: np.ndarray) -> float:
    """Mean |difference| between neighbouring voxels along every axis, over the pairs inside the hole."""
    return float(np.mean([np.abs(np.diff(volume, axis=a))[(hole[tuple(np.s_[:-1] if i == a else np.s_[:] for i in range(3))])].mean() for a in range(3)]))


def test_detail_sharpens_only_the_hole_as_unsharp_masking_the_whole_volume_would(crop_with_hole):
    crop, known, smooth = crop_with_hole
    hole = known < 0.5
    sharp = restore_detail(smooth, known, gain=DETAIL_GAIN)
    assert np.array_equal(sharp[~hole], smooth[~hole])  # known voxels bit for bit
    everywhere = unsharp_mask(smooth, radius=1.0, amount=DETAIL_GAIN, preserve_range=True)
    assert np.allclose(sharp[hole], everywhere[hole], atol=1e-3)  # the box around the hole holds the filter's reach
    assert not np.allclose(sharp[hole], smooth[hole], atol=0.5)
    assert fine_structure(smooth, hole) < fine_structure(sharp, hole) < fine_structure(restore_detail(smooth, known, gain=2.0), hole)
    assert restore_detail(smooth, known, gain=0.0) is smooth


def test_holes_one_or_two_slices_thin_are_left_as_filled_and_each_hole_gets_its_own_gain(crop_with_hole):
    crop, known, _ = crop_with_hole
    thin = np.ones(crop.shape, np.float32)
    thin[5:15, 5:15, 4] = 0  # a lesion disk on one slice: filled almost exactly from its neighbours
    thin[28:38, 30:38, 20:22] = 0  # two slices
    smooth = biharmonic_fill_3d(crop, thin).astype(np.float32)
    assert np.array_equal(restore_detail(smooth, thin), smooth)
    both = np.minimum(known, thin)  # the ellipsoid (6 voxels deep at most) and the thin holes, apart
    gains = hole_gain(both < 0.5, DETAIL_GAIN)
    assert float(gains[10, 10, 4]) == float(gains[32, 34, 20]) == 0.0 and float(gains[20, 20, 13]) == DETAIL_GAIN
    assert float(gains[both > 0].max()) == 0.0
    assert ndimage.label(both < 0.5)[1] == 3


@pytest.mark.parametrize("gain", [-0.5, float("nan"), float("inf")])
def test_a_gain_that_is_not_a_number_at_least_0_is_refused(gain):
    with pytest.raises(MedinpaintError, match="is not a number >= 0"):
        check_detail_gain(gain)
    with pytest.raises(MedinpaintError, match="is not a number >= 0"):  # before the (missing) checkpoint is read
        SemanticInpaint("no-such-checkpoint.pt", detail_gain=gain)


def test_the_cli_detail_gain_sets_the_3d_fill_and_a_bad_one_is_one_error_line(tmp_path, crop_with_hole):
    crop, known, _ = crop_with_hole
    hole = known < 0.5
    nib.save(nib.Nifti1Image(crop, np.eye(4)), str(tmp_path / "t1.nii.gz"))
    nib.save(nib.Nifti1Image(hole.astype(np.uint8), np.eye(4)), str(tmp_path / "hole.nii.gz"))
    base = ["inpaint", "-i", str(tmp_path / "t1.nii.gz"), "-m", str(tmp_path / "hole.nii.gz")]
    runner = CliRunner()
    results = {}
    for gain in ("0", "0.75"):
        out, raw = tmp_path / f"out{gain}.nii.gz", tmp_path / f"raw{gain}.nii.gz"
        done = runner.invoke(app, [*base, "-o", str(out), "--raw", str(raw), "--detail-gain", gain, "--no-mirror"])  # the template is symmetric
        assert done.exit_code == 0, done.output
        results[gain] = np.asarray(nib.load(str(out)).dataobj)
        assert np.array_equal(results[gain][~hole], crop[~hole])
    network = np.asarray(nib.load(str(tmp_path / "raw0.nii.gz")).dataobj)
    assert np.array_equal(results["0"], network)  # gain 0: the posterior mean, as --raw writes it
    assert np.allclose(results["0.75"], restore_detail(network, known, 0.75), atol=1e-4)
    default = inpaint_file(tmp_path / "t1.nii.gz", str(tmp_path / "hole.nii.gz"), tmp_path / "default.nii.gz", mirror=False, progress=False)
    assert np.array_equal(np.asarray(nib.load(str(default.outputs["output"])).dataobj), results["0.75"])
    assert default.detail_gain == 0.75 and "detail gain 0.75" in str(default)  # the template is noise-free: the full gain
    bad = runner.invoke(app, [*base, "-o", str(tmp_path / "bad.nii.gz"), "--detail-gain", "-1"])
    assert bad.exit_code == 2 and bad.stderr.strip() == "error: detail gain -1.0 is not a number >= 0: 0 = the network's posterior-mean fill as it is"
    assert not (tmp_path / "bad.nii.gz").exists()


def rician(volume: np.ndarray, share: float, seed: int = 0) -> np.ndarray:
    """``volume`` with Rician noise of ``share`` × its 99.5th percentile: the benchmark's ``--noise``
    (``bench_brats_protocol.rician_noise``), the noise the thresholds were measured on."""
    return benchmark_module("bench_brats_protocol").rician_noise(volume, share, np.random.default_rng(seed))


def test_the_noise_estimate_reads_the_clean_template_as_clean_and_a_real_t1s_noise_as_noisy():
    template = sample_volume()[0]
    everything = np.ones(template.shape, np.float32)
    clean = noise_share(template, everything)
    assert clean < NOISE_FREE and noisy_gain(DETAIL_GAIN, clean) == DETAIL_GAIN  # every template figure stands
    noisy = rician(template, 0.04)
    assert noise_share(noisy, everything) == pytest.approx(0.04, abs=0.003)
    assert noisy_gain(DETAIL_GAIN, noise_share(noisy, everything)) == 0.0
    assert noise_share(rician(template, 0.02), everything) == pytest.approx(0.024, abs=0.003)  # anatomy adds a little
    # the same for any order or flip of the axes, and hole voxels are not read
    assert noise_share(noisy.transpose(2, 0, 1)[:, ::-1], everything.transpose(2, 0, 1)) == pytest.approx(noise_share(noisy, everything), rel=1e-12)
    known = everything.copy()
    known[80:120, 90:130, 60:100] = 0
    garbage = np.where(known > 0, template, 1e4 * np.random.default_rng(1).random(template.shape)).astype(np.float32)
    assert noise_share(garbage, known) == pytest.approx(noise_share(template, known), rel=1e-12)
    assert noise_share(np.zeros((9, 9, 9)), np.ones((9, 9, 9))) is None  # nothing to tell: the gain is kept
    assert noisy_gain(DETAIL_GAIN, None) == DETAIL_GAIN


def test_a_noisy_volume_gets_the_gain_scaled_down(crop_with_hole):
    crop, known, _ = crop_with_hole
    noisy = rician(crop, 0.03, seed=2)
    noise = noise_share(noisy, known)
    scaled = noisy_gain(DETAIL_GAIN, noise)
    assert NOISE_FREE < noise < NOISE_NO_GAIN and 0.0 < scaled < DETAIL_GAIN
    intensity = IntensityToUnit.for_mr(noisy, 0.5, 99.5)
    fill = inpaint_volume(noisy, known, load_models(device="cpu"), intensity, method="network", spacing=(1.0, 1.0, 1.0))
    assert fill.detail_gain == scaled and np.allclose(fill.filled, restore_detail(fill.raw, known, scaled), atol=1e-4)
    assert not np.allclose(fill.filled, restore_detail(fill.raw, known, DETAIL_GAIN), atol=1e-2)
