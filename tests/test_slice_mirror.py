"""The mirror guide of 2-D fills (medinpaint.slice_mirror) on slices of a real T1: NIfTI, DICOM, PNG, the transform."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from conftest import REAL_T1
from mask_builders import make_seg, mr_series, read_series
from monai.data import MetaTensor
from PIL import Image

from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting.mirror_guide import SliceMirrorGuides
from medinpaint.transforms import SemanticInpaint


def one_slice(volume: np.ndarray, affine: np.ndarray, axis: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Slice ``index`` along ``axis`` as a one-slice volume (the axis kept) with its own affine."""
    plane = np.take(volume, [index], axis=axis)
    shifted = affine.copy()
    shifted[:3, 3] = affine[:3, :3] @ np.eye(3)[axis] * index + affine[:3, 3]
    return plane, shifted


def disk(shape, centre, radii) -> np.ndarray:
    grid = np.mgrid[tuple(slice(0, n) for n in shape)]
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1


def fill_both_ways(tmp_path: Path, image: np.ndarray, affine: np.ndarray, hole: np.ndarray, axis: int = 2) -> dict:
    """inpaint_file on the one-slice NIfTI (sliced along ``axis``) with --mirror and --no-mirror: {mirror: (result, report)}."""
    nib.save(nib.Nifti1Image(image, affine), tmp_path / "slice.nii.gz")
    nib.save(nib.Nifti1Image(hole.astype(np.uint8), affine), tmp_path / "hole.nii.gz")
    results = {}
    for mirror in (True, False):
        report = inpaint_file(tmp_path / "slice.nii.gz", str(tmp_path / "hole.nii.gz"), tmp_path / f"out_{mirror}.nii.gz", axis=axis, mirror=mirror, progress=False)
        results[mirror] = (np.asanyarray(nib.load(tmp_path / f"out_{mirror}.nii.gz").dataobj), report)
    return results


def test_an_axial_slice_is_guided_by_its_other_side(tmp_path, real_t1):
    """A one-slice NIfTI of the real T1 (axial: the left-right axis in its plane), a hole in one
    hemisphere: the default's fill is closer to the truth than --no-mirror's; known pixels unchanged."""
    image, affine = one_slice(*real_t1, axis=2, index=12)
    hole = disk(image.shape[:2], (10, 22), (4, 5))[:, :, None]
    results = fill_both_ways(tmp_path, image, affine, hole)
    errors = {}
    for mirror, (result, report) in results.items():
        assert np.array_equal(result[~hole], image[~hole])
        errors[mirror] = np.abs(result - image)[hole].mean()
    guided_report = results[True][1]
    assert isinstance(guided_report.mirror, SliceMirrorGuides) and guided_report.mirror.guides[0].weights[0] > 0.5
    assert "mirror guide (--mirror): 2-D, per slice: slice 0: plane correlation" in str(guided_report)
    assert results[False][1].mirror is None
    assert errors[True] < 0.8 * errors[False]


def test_a_sagittal_slice_is_not_guided(tmp_path, real_t1):
    """A slice across the left-right axis holds one hemisphere: no mirror in it, the fill is --no-mirror's."""
    image, affine = one_slice(*real_t1, axis=0, index=10)
    hole = disk(image.shape[1:], (20, 12), (5, 4))[None]
    results = fill_both_ways(tmp_path, image, affine, hole, axis=0)
    assert np.array_equal(results[True][0], results[False][0])
    assert results[True][1].mirror.guides == (None,) and "not guided" in str(results[True][1])


def test_a_dicom_frame_is_guided_from_its_orientation(tmp_path, real_t1):
    """DICOM in, DICOM out: one axial MR frame of the real T1 and a DICOM-SEG over a hole; the frame's
    ImageOrientationPatient says where left-right is, and the guided fill is closer to the truth."""
    frame = np.rint(real_t1[0][:, :, 12].T)[None]  # (1, rows = y, columns = x): left-right along the rows
    hole = disk(frame.shape[1:], (22, 10), (5, 4))[None]
    folder = mr_series(frame, (2.0, 2.0, 2.0), tmp_path / "series")
    seg = make_seg(read_series(folder), hole[..., None], ["lesion"], tmp_path / "seg.dcm")
    errors = {}
    for mirror in (True, False):
        report = inpaint_file(folder, str(seg), tmp_path / f"out_{mirror}", mirror=mirror, progress=False)
        result = read_series(tmp_path / f"out_{mirror}")[0].pixel_array[None]
        assert np.array_equal(result[~hole], frame[~hole])
        assert isinstance(report.mirror, SliceMirrorGuides) == mirror
        errors[mirror] = np.abs(result.astype(float) - frame)[hole].mean()
    assert errors[True] < 0.8 * errors[False]


def test_a_png_has_no_geometry_and_is_not_guided(tmp_path, real_t1):
    """A PNG says nothing of left and right: the same fill with and without --mirror."""
    plane = real_t1[0][:, :, 12]
    Image.fromarray(np.rint(plane / plane.max() * 255).astype(np.uint8)).save(tmp_path / "slice.png")
    Image.fromarray(disk(plane.shape, (10, 22), (4, 5)).astype(np.uint8) * 255).save(tmp_path / "hole.png")
    for mirror in (True, False):
        inpaint_file(tmp_path / "slice.png", str(tmp_path / "hole.png"), tmp_path / f"out_{mirror}.png", mirror=mirror, progress=False)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out_True.png")), np.asarray(Image.open(tmp_path / "out_False.png")))


def test_fill_slices_guides_each_slice_of_a_volume(tmp_path, real_t1):
    """--fill slices on the real T1 volume with holes on two axial slices: each slice guided on its own."""
    volume, affine = real_t1
    hole = np.zeros(volume.shape, bool)
    hole[:, :, 10] = disk(volume.shape[:2], (22, 28), (4, 5))
    hole[:, :, 12] = disk(volume.shape[:2], (10, 22), (4, 5))
    nib.save(nib.Nifti1Image(hole.astype(np.uint8), affine), tmp_path / "hole.nii.gz")
    report = inpaint_file(REAL_T1, str(tmp_path / "hole.nii.gz"), tmp_path / "out.nii.gz", fill="slices", progress=False)
    assert report.mirror.slices == (10, 12) and all(guide.plane is not None for guide in report.mirror.guides)
    result = np.asanyarray(nib.load(tmp_path / "out.nii.gz").dataobj)
    assert np.array_equal(result[~hole], volume[~hole])


def test_transform_guides_a_slice_like_the_cli(tmp_path, real_t1):
    """SemanticInpaint on a one-slice MetaTensor with the slice's affine gives the CLI's guided fill (to the rounding)."""
    image, affine = one_slice(*real_t1, axis=2, index=12)
    hole = disk(image.shape[:2], (10, 22), (4, 5))[:, :, None]
    expected = fill_both_ways(tmp_path, image, affine, hole)[True][0].astype(np.float32)
    filled = SemanticInpaint(device="cpu")(MetaTensor(image[None], affine=affine), hole[None].astype(np.float32))
    assert np.allclose(filled[0].numpy()[hole], expected[hole], atol=1.0)
    unguided = SemanticInpaint(mirror=False, device="cpu")(MetaTensor(image[None], affine=affine), hole[None].astype(np.float32))
    assert np.abs(filled[0].numpy() - image)[hole].mean() < np.abs(unguided[0].numpy() - image)[hole].mean()


def test_a_frame_with_a_degenerate_orientation_is_filled_unguided(tmp_path, real_t1):
    """ImageOrientationPatient of zeros says nothing of left and right: the frame is filled as with --no-mirror, no error."""
    folder = mr_series(np.rint(real_t1[0][:, :, 12].T)[None], (2.0, 2.0, 2.0), tmp_path / "series")
    frame_file = next(folder.iterdir())
    ds = pydicom.dcmread(frame_file)
    ds.ImageOrientationPatient = [0.0] * 6
    ds.save_as(frame_file)
    reports = {mirror: inpaint_file(frame_file, "box:16", tmp_path / f"out_{mirror}.dcm", mirror=mirror, progress=False) for mirror in (True, False)}
    assert reports[True].mirror.guides == (None,) and "not guided" in str(reports[True])
    assert np.array_equal(pydicom.dcmread(tmp_path / "out_True.dcm").pixel_array, pydicom.dcmread(tmp_path / "out_False.dcm").pixel_array)
