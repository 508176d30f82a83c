"""Shrinkage of the generative fill toward the biharmonic fill: the convex combination on the hole,
known voxels bit-identical, end to end through ``inpaint_file`` and the CLI (real MNI152 data)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch
from skimage.restoration import inpaint_biharmonic
from typer.testing import CliRunner

from medinpaint.cli import app
from medinpaint.data.sample import sample_volume
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting import SearchConfig
from medinpaint.inpainting.shrinkage import shrink_to_biharmonic, shrink_to_biharmonic_3d
from medinpaint.native_inpainting import default_prior_weight
from test_volume_inpainting import checkpoint, crop_files  # noqa: F401  (module fixtures)

FAST = SearchConfig(iterations=3, restarts=1, seed=0)


@pytest.fixture(scope="module")
def axial_slices() -> tuple[torch.Tensor, torch.Tensor]:
    """Two axial slices of the MNI152 T1 (N, 1, H, W) with two disk holes each; known = 1."""
    volume, _ = sample_volume()
    native = torch.from_numpy(np.ascontiguousarray(np.stack([volume[:, :, 100], volume[:, :, 110]])[:, None]))
    rows, cols = np.mgrid[: native.shape[2], : native.shape[3]]
    hole = ((rows - 90) ** 2 + (cols - 100) ** 2 <= 36) | ((rows - 60) ** 2 + (cols - 140) ** 2 <= 100)
    known = torch.from_numpy(~hole).float().expand(2, 1, *hole.shape).contiguous()
    return native, known


def test_weight_0_is_the_biharmonic_fill_and_half_the_midpoint(axial_slices):
    native, known = axial_slices
    generated = torch.full_like(native, 50.0)
    hole = known[:, 0] < 0.5
    classical = shrink_to_biharmonic(generated, native, known, 0.0)
    for n in range(2):
        expected = inpaint_biharmonic(native[n, 0].double().numpy(), hole[n].numpy())
        assert np.allclose(classical[n, 0].numpy(), expected, atol=1e-3)
    half = shrink_to_biharmonic(generated, native, known, 0.5)
    assert torch.allclose(half[hole[:, None]], 0.5 * (generated + classical)[hole[:, None]], atol=1e-3)
    for result in (classical, half):
        assert torch.equal(result[~hole[:, None]], native[~hole[:, None]])  # known pixels bit-identical
    assert shrink_to_biharmonic(generated, native, known, 1.0) is generated


def test_3d_weight_0_is_the_3d_biharmonic_fill(crop_files):
    _, _, crop, hole, _ = crop_files
    generated = np.full_like(crop, 50.0)
    result = shrink_to_biharmonic_3d(generated, crop, (~hole).astype(np.float32), 0.0)
    expected = inpaint_biharmonic(crop.astype(np.float64), hole)  # on the whole crop, not the hole's box
    assert np.allclose(result[hole], expected[hole], atol=1e-2 * np.ptp(crop))
    assert np.array_equal(result[~hole], crop[~hole])
    assert result.dtype == crop.dtype


def test_inpaint_file_shrinks_by_the_given_weight_and_defaults_by_grid(tmp_path, crop_files, checkpoint):  # noqa: F811
    image, mask, crop, hole, _ = crop_files
    results = {}
    for weight in (1.0, 0.0, 0.25):
        inpaint_file(image, str(mask), tmp_path / f"w{weight}.nii.gz", checkpoint=checkpoint, search=FAST,
                     fill="3d", prior_weight=weight, mirror=False, progress=False)  # fmt: skip  (the guides act after the prior weight)
        results[weight] = np.asanyarray(nib.load(tmp_path / f"w{weight}.nii.gz").dataobj).astype(np.float64)
        assert np.array_equal(results[weight][~hole], crop[~hole])
    biharmonic = inpaint_biharmonic(crop.astype(np.float64), hole)
    assert np.allclose(results[0.0][hole], biharmonic[hole], atol=1e-2 * np.ptp(crop))
    mixed = 0.25 * results[1.0] + 0.75 * results[0.0]
    assert np.allclose(results[0.25][hole], mixed[hole], atol=1e-3 * np.ptp(crop))
    assert default_prior_weight("slices") == 1.0 and 0 < default_prior_weight("windows") < 1


@pytest.mark.parametrize("weight", ["1.5", "-0.1"])
def test_a_weight_outside_0_1_is_one_error_line_before_any_work(tmp_path, crop_files, weight):
    image, mask, *_ = crop_files
    out = tmp_path / "out.nii.gz"
    missing_checkpoint = tmp_path / "no-such.pt"  # were the model loaded first, the error would name it
    result = CliRunner().invoke(
        app, ["inpaint", "-i", str(image), "-m", str(mask), "-o", str(out), "--checkpoint", str(missing_checkpoint),
              "--prior-weight", weight],
    )  # fmt: skip
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: prior weight") and "[0, 1]" in lines[0], result.output
    assert not out.exists()
    with pytest.raises(MedinpaintError):
        default_prior_weight("windows", float(weight))
