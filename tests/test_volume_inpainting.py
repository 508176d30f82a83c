"""The 3-D fill: an exact 3-D Poisson solve, and inpaint_file's --fill 3d / slices on a NIfTI crop of the sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from medinpaint.cli import app
from medinpaint.data.sample import sample_volume
from medinpaint.errors import MedinpaintError
from medinpaint.file_inpainting import inpaint_file
from medinpaint.inpainting import SearchConfig
from medinpaint.checkpoint import load_models
from medinpaint.inpainting.poisson3d import gradient_blend_3d, poisson_blend_3d
from medinpaint.transforms.array import IntensityToUnit
from medinpaint.volume_inpainting import inpaint_volume
from test_file_inpainting import tiny_checkpoint

FAST = SearchConfig(iterations=5, restarts=1, seed=0)


def poisson_residual(result: np.ndarray, hole: np.ndarray, guidance=None, differences=None) -> np.ndarray:
    """Σ_q (x_p − x_q) − Σ_q g_pq over the in-volume 6-neighbours q of every hole voxel p, by explicit loops.

    ``g_pq = s_p − s_q`` for a guidance volume ``s``, or from per-axis ``differences[d][p] = g(p + e_d) − g(p)``.
    """
    if differences is None:
        differences = [np.diff(guidance, axis=d) for d in range(3)]
    residual = []
    for p in map(tuple, np.argwhere(hole)):
        total = 0.0
        for axis in range(3):
            for step in (-1, 1):
                q = list(p)
                q[axis] += step
                if 0 <= q[axis] < hole.shape[axis]:
                    lower = tuple(p) if step == 1 else tuple(q)  # the difference is stored at the lower voxel
                    towards_q = float(differences[axis][lower]) * step  # g(q) − g(p)
                    total += (float(result[p]) - float(result[tuple(q)])) + towards_q
        residual.append(total)
    return np.array(residual)


@pytest.fixture()
def random_hole() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random blob hole (it touches the volume border), a target and a guidance field."""
    rng = np.random.default_rng(3)
    hole = rng.random((9, 11, 8)) < 0.35
    hole[:, :, 0] = False  # keep known voxels in every part's reach
    hole[0, 4:7, 3:6] = True  # a part on the border: the zero-flux side
    target = rng.normal(50, 10, hole.shape).astype(np.float32)
    guidance = rng.normal(0, 20, hole.shape)
    return hole, target, guidance


def test_poisson_3d_solves_the_discrete_equation(random_hole):
    hole, target, guidance = random_hole
    result = poisson_blend_3d(guidance, target, (~hole).astype(np.float32))
    scale = np.abs(guidance).max()
    assert np.abs(poisson_residual(result.astype(np.float64), hole, guidance)).max() < 1e-6 * scale
    assert result.dtype == target.dtype
    assert np.array_equal(result[~hole], target[~hole])  # bit-identical
    assert not np.allclose(result[hole], target[hole])


def test_poisson_3d_with_the_truth_as_guidance_gives_the_truth(random_hole):
    hole, truth, _ = random_hole
    voided = np.where(hole, 0, truth).astype(np.float32)
    result = poisson_blend_3d(truth.astype(np.float64), voided, (~hole).astype(np.float32))
    assert np.abs(result[hole] - truth[hole]).max() < 1e-3  # float32 output of values ~50
    assert np.array_equal(result[~hole], voided[~hole])


def test_gradient_blend_3d_solves_the_equation_of_arbitrary_differences(random_hole):
    hole, target, guidance = random_hole
    rng = np.random.default_rng(4)
    differences = tuple(rng.normal(0, 5, tuple(n - (a == d) for a, n in enumerate(hole.shape))) for d in range(3))
    result = gradient_blend_3d(differences, target, (~hole).astype(np.float32))
    assert np.abs(poisson_residual(result.astype(np.float64), hole, differences=differences)).max() < 1e-4
    assert np.array_equal(result[~hole], target[~hole])


def test_poisson_3d_refuses_mismatched_shapes():
    with pytest.raises(MedinpaintError, match=r"one shape.*\(4, 4, 4\).*\(4, 4, 5\)"):
        poisson_blend_3d(np.zeros((4, 4, 4)), np.zeros((4, 4, 5)), np.ones((4, 4, 5)))


@pytest.fixture(scope="module")
def crop_files(tmp_path_factory) -> tuple[Path, Path, np.ndarray, np.ndarray, np.ndarray]:
    """A 40×44×30 crop of the sample (held-out slab) with a 3-D ellipsoid hole, as NIfTI files."""
    folder = tmp_path_factory.mktemp("crop")
    volume, affine = sample_volume()
    start = (78, 96, 100)
    crop = np.ascontiguousarray(volume[78:118, 96:140, 100:130])
    shifted = affine.copy()
    shifted[:3, 3] += affine[:3, :3] @ np.array(start)
    grid = np.mgrid[: crop.shape[0], : crop.shape[1], : crop.shape[2]]
    radii, centre = (7, 6, 5), (20, 22, 15)
    hole = sum(((grid[i] - centre[i]) / radii[i]) ** 2 for i in range(3)) <= 1
    nib.save(nib.Nifti1Image(crop, shifted), folder / "crop.nii.gz")
    nib.save(nib.Nifti1Image(hole.astype(np.uint8), shifted), folder / "hole.nii.gz")
    return folder / "crop.nii.gz", folder / "hole.nii.gz", crop, hole, shifted


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "mri.pt", "brain_mri", 1)


def test_fill_3d_keeps_known_voxels_and_geometry_and_blends_in_3d(tmp_path, crop_files, checkpoint):
    image, mask, crop, hole, affine = crop_files
    report = inpaint_file(
        image, str(mask), tmp_path / "out.nii.gz", checkpoint=checkpoint, search=FAST, fill="3d",
        raw_output=tmp_path / "raw.nii.gz", progress=False,
    )
    out = nib.load(tmp_path / "out.nii.gz")
    result = np.asanyarray(out.dataobj)
    assert out.shape == crop.shape and np.allclose(out.affine, affine) and result.dtype == crop.dtype
    assert np.array_equal(result[~hole], crop[~hole])
    assert report.slices == tuple(int(z) for z in np.flatnonzero(hole.any(axis=(0, 1))))
    assert np.abs(result[hole] - crop[hole]).mean() > 0
    assert np.asanyarray(nib.load(tmp_path / "raw.nii.gz").dataobj)[hole].std() > 0


def test_inpaint_volume_fuses_in_plane_differences_of_the_other_orientations(crop_files, checkpoint):
    _, _, crop, hole, _ = crop_files
    known = (~hole).astype(np.float32)
    models = load_models(checkpoint, device="cpu")
    fill = inpaint_volume(crop, known, models, IntensityToUnit.for_mr(crop, 0.5, 99.5), FAST, grid="windows")
    assert sorted(fill.axis_raw) == [0, 1, 2] and fill.windows == sum(len(v) for v in fill.axis_slices.values())
    assert np.array_equal(fill.filled[~hole], crop[~hole])
    # along axis d, the guidance is the mean difference of the two other orientations' fills
    differences = [np.mean([np.diff(fill.axis_raw[a].astype(np.float64), axis=d) for a in range(3) if a != d], axis=0) for d in range(3)]
    residual = poisson_residual(fill.filled.astype(np.float64), hole, differences=differences)
    assert np.abs(residual).max() < 1e-3
    mean = inpaint_volume(crop, known, models, IntensityToUnit.for_mr(crop, 0.5, 99.5), FAST, grid="windows", fusion="mean")
    assert np.abs(poisson_residual(mean.filled.astype(np.float64), hole, mean.raw.astype(np.float64))).max() < 1e-3


def test_fill_auto_is_3d_for_a_volume_hole_and_slices_still_work(tmp_path, crop_files, checkpoint):
    image, mask, crop, hole, _ = crop_files
    results = {}
    for fill in ("auto", "3d", "slices"):
        inpaint_file(image, str(mask), tmp_path / f"{fill}.nii.gz", checkpoint=checkpoint, search=FAST, fill=fill, progress=False)
        results[fill] = np.asanyarray(nib.load(tmp_path / f"{fill}.nii.gz").dataobj)
        assert np.array_equal(results[fill][~hole], crop[~hole])
    assert np.array_equal(results["auto"], results["3d"])
    assert not np.allclose(results["slices"][hole], results["3d"][hole])


def test_bad_fill_is_one_error_line_before_any_work(tmp_path, crop_files):
    image, mask, *_ = crop_files
    runner = CliRunner()
    missing_checkpoint = tmp_path / "no-such.pt"  # were the model loaded first, the error would name it
    base = ["inpaint", "-i", str(image), "-m", str(mask), "-o", str(tmp_path / "out.nii.gz"), "--checkpoint", str(missing_checkpoint)]
    bad = runner.invoke(app, [*base, "--fill", "cube"])
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "error: --fill 'cube' is not one of auto, 3d, slices: pick one of them"
    generated = runner.invoke(app, [*base[:4], "box:8", *base[5:], "--fill", "3d"])
    assert generated.exit_code == 2 and "--fill 3d needs a 3-D NIfTI volume or a DICOM series, a mask file" in generated.stderr
    assert not (tmp_path / "out.nii.gz").exists()


def test_fill_3d_refuses_chosen_slices(tmp_path, crop_files, checkpoint):
    image, mask, *_ = crop_files
    with pytest.raises(MedinpaintError, match="use --fill slices"):
        inpaint_file(image, str(mask), tmp_path / "out.nii.gz", checkpoint=checkpoint, slices=[14, 15], fill="3d")


def test_volume_restarts_set_the_3d_searches_and_the_cli_defaults_them_to_2(tmp_path, crop_files, checkpoint):
    from medinpaint.cli import file_options

    image, mask, _, hole, _ = crop_files
    search = SearchConfig(iterations=3, restarts=3, seed=0)
    spreads = {}
    for volume_restarts in (None, 1):
        inpaint_file(image, str(mask), tmp_path / f"v{volume_restarts}.nii.gz", checkpoint=checkpoint, search=search, fill="3d",
                     volume_restarts=volume_restarts, uncertainty_output=tmp_path / f"s{volume_restarts}.nii.gz", progress=False)  # fmt: skip
        spreads[volume_restarts] = np.asanyarray(nib.load(tmp_path / f"s{volume_restarts}.nii.gz").dataobj)
    assert spreads[None][hole].max() > 0  # 3 restarts per orientation spread
    assert not spreads[1].any()  # one restart: nothing to spread
    common = dict(slices=None, iterations=5, seed=0, blend="poisson", label=None, dilate=0.0)
    defaults, given = file_options(restarts=None, **common), file_options(restarts=3, **common)
    assert (defaults["search"].restarts, defaults["volume_restarts"]) == (4, 2)
    assert (given["search"].restarts, given["volume_restarts"]) == (3, 3)
    with pytest.raises(MedinpaintError, match="restarts must be > 0"):
        file_options(restarts=0, **common)  # 0 is refused, not taken for "default"


@pytest.fixture(scope="module")
def mr_volume_series(tmp_path_factory):
    """The held-out crop as a regular axial MR series (every second slice: 1 × 1 mm pixels, 2 mm apart) and a DICOM-SEG of a 3-D hole."""
    from mask_builders import make_seg, mr_series, read_series
    from medinpaint.io.nifti import extract_slices

    folder = tmp_path_factory.mktemp("mr_volume")
    volume, _ = sample_volume()
    frames = extract_slices(np.ascontiguousarray(volume[70:130, 90:150, 96:136:2]), 2, range(20))[0][:, 0]  # display: (F, rows, cols)
    grid = np.mgrid[tuple(slice(0, n) for n in frames.shape)]
    hole = sum(((grid[i] - c) / r) ** 2 for i, (c, r) in enumerate(zip((10, 30, 28), (4, 8, 7)))) <= 1
    series = mr_series(frames, (2.0, 1.0, 1.0), folder / "series")
    seg = make_seg(read_series(series), hole[..., None], ["tumour"], folder / "seg.dcm")
    return series, seg, np.rint(frames), hole


def read_frames(folder: Path) -> np.ndarray:
    from mask_builders import read_series

    return np.stack([ds.pixel_array.astype(np.float64) for ds in sorted(read_series(folder), key=lambda ds: ds.ImagePositionPatient[2])])


def test_a_regular_dicom_series_of_thick_frames_is_filled_in_3d_on_a_finer_grid(tmp_path, mr_volume_series):
    series, seg, frames, hole = mr_volume_series
    models = load_models(device="cpu")
    filled = {}
    for fill in ("auto", "slices"):
        report = inpaint_file(series, str(seg), tmp_path / fill, models=models, fill=fill, progress=False)
        filled[fill] = read_frames(tmp_path / fill)
        assert np.array_equal(filled[fill][~hole], frames[~hole])
        assert report.fill_grid == ((2, 1, 1) if fill == "auto" else (1, 1, 1))  # frames 2 mm apart: split through-plane only
    errors = {fill: np.abs(filled[fill][hole] - frames[hole]).mean() for fill in filled}
    assert errors["auto"] < 0.9 * errors["slices"]  # the 3-D fill reads the frames above and below the hole


def test_fill_3d_refuses_dicom_frames_that_are_not_a_regular_volume(tmp_path, mr_volume_series):
    from mask_builders import make_seg, read_series

    series, _, frames, hole = mr_volume_series
    gapped = Path(shutil.copytree(series, tmp_path / "gapped"))
    (gapped / "slice012.dcm").unlink()  # frames 2 mm apart, then 4 mm: not a regular volume
    kept = np.delete(np.arange(len(frames)), 12)
    seg = make_seg(read_series(gapped), hole[kept][..., None], ["tumour"], tmp_path / "seg.dcm")
    result = CliRunner().invoke(app, ["inpaint", "-i", str(gapped), "-m", str(seg), "-o", str(tmp_path / "out"), "--fill", "3d"])
    assert result.exit_code != 0 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: --fill 3d needs one-channel frames that form a regular volume") and "use --fill slices" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_enhanced_multiframe_volume_is_filled_in_3d_like_its_series(tmp_path, mr_volume_series):
    import highdicom
    import pydicom
    from mask_builders import make_seg, read_series

    series, _, frames, hole = mr_volume_series
    multiframe = highdicom.legacy.LegacyConvertedEnhancedMRImage(
        read_series(series), series_instance_uid=highdicom.UID(), series_number=5, sop_instance_uid=highdicom.UID(), instance_number=1
    )
    multiframe.save_as(tmp_path / "volume.dcm")
    stored = pydicom.dcmread(tmp_path / "volume.dcm")
    order = [round(float(f.PlanePositionSequence[0].ImagePositionPatient[2]) / 2) for f in stored.PerFrameFunctionalGroupsSequence]
    frames, hole = frames[order], hole[order]  # the converter stores the frames in its own order (here: descending z)
    seg = make_seg([stored], hole[..., None], ["tumour"], tmp_path / "seg.dcm")
    report = inpaint_file(tmp_path / "volume.dcm", str(seg), tmp_path / "filled.dcm", models=load_models(device="cpu"), progress=False)
    filled = pydicom.dcmread(tmp_path / "filled.dcm").pixel_array.astype(np.float64)
    assert report.fill_grid == (2, 1, 1) and len(report.slices) == int(hole.any(axis=(1, 2)).sum())
    assert np.array_equal(filled[~hole], frames[~hole]) and np.abs(filled[hole] - frames[hole]).mean() > 0


def test_dicom_frames_whose_pixel_spacing_is_zero_are_filled_slice_by_slice_not_in_3d(tmp_path, mr_volume_series):
    from mask_builders import read_series

    series, seg, frames, hole = mr_volume_series
    flat = Path(shutil.copytree(series, tmp_path / "flat"))
    for path, ds in zip(sorted(flat.iterdir()), read_series(flat)):
        ds.PixelSpacing = [0.0, 0.0]  # no usable pixel size: no voxel size for the 3-D fill
        ds.save_as(path)
    result = CliRunner().invoke(app, ["inpaint", "-i", str(flat), "-m", str(seg), "-o", str(tmp_path / "out3d"), "--fill", "3d"])
    assert result.exit_code != 0 and result.stderr.count("\n") == 1 and not (tmp_path / "out3d").exists()
    assert result.stderr.startswith("error: --fill 3d needs one-channel frames that form a regular volume")
    report = inpaint_file(flat, str(seg), tmp_path / "auto", models=load_models(device="cpu"), progress=False)
    filled = read_frames(tmp_path / "auto")
    assert report.fill_grid == (1, 1, 1) and np.array_equal(filled[~hole], frames[~hole])
    assert np.abs(filled[hole] - frames[hole]).mean() < np.abs(frames[hole] - frames[~hole].mean()).mean()  # a fill, not a blank


def fills_stored_both_ways(tmp_path: Path, image: np.ndarray, hole: np.ndarray, affine: np.ndarray, moved_origin=(0.0, 0.0, 0.0), **options):
    """``image`` filled by ``inpaint_file`` as given (float32) and flipped along x and y as int16, its world
    origin moved by ``moved_origin`` mm (the same anatomy stored as BraTS ships T1s): ``(fill as given,
    fill as flipped flipped back, the flipped file's affine, the two reports)``."""
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = [image.shape[0] - 1, image.shape[1] - 1]
    moved = np.eye(4)
    moved[:3, 3] = moved_origin
    stored = {"given": (image, hole, affine), "flipped": (image[::-1, ::-1].astype(np.int16), hole[::-1, ::-1], moved @ affine @ flip)}
    filled, reports = {}, []
    for name, (values, mask, image_affine) in stored.items():
        nib.save(nib.Nifti1Image(values, image_affine), tmp_path / f"{name}.nii.gz")
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), image_affine), tmp_path / f"{name}_mask.nii.gz")
        reports.append(inpaint_file(tmp_path / f"{name}.nii.gz", str(tmp_path / f"{name}_mask.nii.gz"), tmp_path / f"{name}_out.nii.gz", progress=False, **options))
        filled[name] = np.asanyarray(nib.load(tmp_path / f"{name}_out.nii.gz").dataobj).astype(np.float32)
    return filled["given"], filled["flipped"][::-1, ::-1], stored["flipped"][2], reports


def test_a_thick_hole_gets_the_same_fill_however_the_volume_is_stored(tmp_path):
    """The shipped model's 3-D fill of a volume stored LPS as int16 (as BraTS ships T1s) is its fill
    of the same anatomy stored RAS as float32, flipped back, up to the int16 output's rounding:
    the eight symmetry views of a thick hole make the fill independent of the axes' directions.
    Without the mirror guide: the template is symmetric, so its mirror image is the truth itself."""
    volume, affine = sample_volume()
    crop = np.round(volume[60:120, 70:130, 80:120]).astype(np.float32)
    grid = np.mgrid[: crop.shape[0], : crop.shape[1], : crop.shape[2]]
    hole = sum(((grid[i] - c) / r) ** 2 for i, (c, r) in enumerate(zip((30, 28, 20), (9, 8, 7)))) <= 1
    ras = affine.copy()
    ras[:3, 3] += affine[:3, :3] @ np.array([60, 70, 80])
    filled, back, lps, _ = fills_stored_both_ways(tmp_path, crop, hole, ras, mirror=False)
    assert nib.aff2axcodes(ras) == ("R", "A", "S") and nib.aff2axcodes(lps) == ("L", "P", "S")
    assert np.abs(filled[hole] - crop[hole]).mean() > 5  # a real fill, not the truth
    assert np.abs(back[hole] - filled[hole]).max() <= 0.5 + 1e-3
    assert np.array_equal(back[~hole], crop[~hole])


@pytest.fixture(scope="module")
def real_t1() -> Path:
    """A real subject's T1 (nibabel's test data, 33 × 41 × 25 voxels of 2 mm) that no medinpaint model saw."""
    return Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"


def test_whole_missing_slices_of_a_real_t1_are_filled_from_the_slices_beside_them(tmp_path, real_t1):
    """A gap of two whole sagittal slices (a dropped slab) goes through the CLI's 3-D fill: known voxels as
    they were, and the gap closer to the truth than linear interpolation between the slices beside it."""
    image = nib.load(real_t1)
    truth = np.asanyarray(image.dataobj).astype(np.float64)
    gap = np.zeros(truth.shape, bool)
    gap[10:12] = True
    nib.save(nib.Nifti1Image(gap.astype(np.uint8), image.affine), tmp_path / "gap.nii.gz")
    result = CliRunner().invoke(app, ["inpaint", "-i", str(real_t1), "-m", str(tmp_path / "gap.nii.gz"), "-o", str(tmp_path / "out.nii.gz")])
    assert result.exit_code == 0, result.output
    # the fill network searches nothing: its report has no iterations or loss per slice
    assert "\nslice  missing px\n" in result.output and "iterations" not in result.output
    filled = np.asanyarray(nib.load(tmp_path / "out.nii.gz").dataobj).astype(np.float64)
    assert np.array_equal(filled[~gap], truth[~gap])
    linear = np.stack([(2 * truth[9] + truth[12]) / 3, (truth[9] + 2 * truth[12]) / 3])
    assert np.abs(filled[10:12] - truth[10:12]).mean() < 0.9 * np.abs(linear - truth[10:12]).mean()


@pytest.mark.parametrize(
    ("arguments", "missing", "message"),
    [
        (["--fill", "slices"], np.s_[:, :, 12], "the mask covers all of slice 12: whole slices of a volume are filled"),
        (["--method", "search"], np.s_[:, :, 12], "the mask covers all of slice 12"),
        ([], np.s_[:], "mask covers the whole volume: leave some voxels known"),
        (["--fill", "slices"], np.s_[:], "mask covers the whole volume: leave some voxels known"),
    ],
)
def test_whole_slices_outside_the_network_3d_fill_are_one_error_line(tmp_path, real_t1, arguments, missing, message):
    image = nib.load(real_t1)
    gap = np.zeros(image.shape, np.uint8)
    gap[missing] = 1
    nib.save(nib.Nifti1Image(gap, image.affine), tmp_path / "gap.nii.gz")
    result = CliRunner().invoke(app, ["inpaint", "-i", str(real_t1), "-m", str(tmp_path / "gap.nii.gz"), "-o", str(tmp_path / "out.nii.gz"), *arguments])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "out.nii.gz").exists()


def test_a_mask_over_all_but_one_voxel_is_one_error_line_that_says_so(tmp_path, real_t1):
    image = nib.load(real_t1)
    gap = np.ones(image.shape, np.uint8)
    gap[16, 20, 12] = 0
    nib.save(nib.Nifti1Image(gap, image.affine), tmp_path / "gap.nii.gz")
    result = CliRunner().invoke(app, ["inpaint", "-i", str(real_t1), "-m", str(tmp_path / "gap.nii.gz"), "-o", str(tmp_path / "out.nii.gz")])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: the mask covers 99.997 % of the image and the 1 voxel(s) outside it") and "only the region to fill" in lines[0]
    assert not (tmp_path / "out.nii.gz").exists()


def test_a_corrupted_frame_of_a_dicom_series_is_filled_from_the_frames_beside_it(tmp_path, mr_volume_series):
    """DICOM in, DICOM out: a DICOM-SEG over all of one frame (2 mm apart, so on a finer grid) gives a derived
    series whose other frames are the input's, and the frame closer to the truth than the mean of its neighbours."""
    from mask_builders import make_seg, read_series

    series, _, frames, _ = mr_volume_series
    whole = np.zeros(frames.shape, bool)
    whole[10] = True
    seg = make_seg(read_series(series), whole[..., None], ["corrupted frame"], tmp_path / "frame.dcm")
    report = inpaint_file(series, str(seg), tmp_path / "out", progress=False)
    filled = read_frames(tmp_path / "out")
    assert report.slices == (10,) and report.fill_grid == (2, 1, 1)
    assert np.array_equal(filled[~whole], frames[~whole])
    between = (frames[9] + frames[11]) / 2
    assert np.abs(filled[10] - frames[10]).mean() < 0.9 * np.abs(between - frames[10]).mean()


def test_the_guided_fill_of_a_real_t1_is_the_same_however_it_is_stored(tmp_path, real_t1):
    """With the CLI's defaults (the network, the mirror and the template guides) a real T1 stored as BraTS
    ships it (flipped to R-P-S, int16, its world origin 239 mm away) is filled as stored by SPM
    (L-A-S), flipped back: the plane and the template's placement are found in world coordinates
    from the image itself, so the weights are the same and the fills differ by a small share of the
    fill's own error (the placement's refinement starts from the origin too). Not by nothing: the
    placement's float32 refinement stops within about 0.1 mm (a twentieth of a voxel) of its optimum,
    where on the template's edges that moves the guide by a per cent or two; how far within depends
    on the CPU's float kernels (mean 1.8 % of the error on an AMD EPYC, under 1 % on the Xeons before).
    A placement 1 mm off (the flipped file's shifted so, by hand) moves the fill by 36 % of its error."""
    image = nib.load(real_t1)
    volume = np.round(image.get_fdata()).astype(np.float32)
    grid = np.mgrid[: volume.shape[0], : volume.shape[1], : volume.shape[2]]
    hole = sum(((grid[i] - c) / r) ** 2 for i, (c, r) in enumerate(zip((17, 20, 14), (6, 6, 5)))) <= 1  # across the midline
    filled, back, brats, reports = fills_stored_both_ways(tmp_path, volume, hole, image.affine, (0.0, -239.0, 0.0))
    assert nib.aff2axcodes(image.affine) == ("L", "A", "S") and nib.aff2axcodes(brats) == ("R", "P", "S")
    guides = [report.mirror for report in reports]
    assert all(guide.template is not None and guide.template.correlation > 0.45 for guide in guides)
    assert np.allclose(guides[0].weights, guides[1].weights, atol=0.01) and np.allclose(guides[0].template.weights, guides[1].template.weights, atol=0.01)
    error, difference = np.abs(filled - volume)[hole].mean(), np.abs(back - filled)[hole]
    assert error > 0.05 * np.percentile(volume, 99.5)  # a real fill, not the truth
    assert difference.mean() < 0.03 * error and difference.max() < 0.03 * np.percentile(volume, 99.5)
    assert np.array_equal(back[~hole], volume[~hole])


def test_the_guided_fill_of_a_real_t1_is_the_same_in_other_units(tmp_path, real_t1):
    """The real T1 with the CLI's defaults, in its units, 1000 times them (another scanner's scale) and
    stored as int16 with a NIfTI slope of 2 and intercept of 10: each fill, in its file's units and
    converted back, is the first within a small share of its error (every threshold of the fill and
    the guides is relative to the input's own intensities; what remains is the template placement's
    float32 precision: 1.8 % of the error measured for both, the limit as in the stored-both-ways test above).
    Known voxels come back as the file held them."""
    image = nib.load(real_t1)
    volume = np.round(image.get_fdata()).astype(np.float32)
    grid = np.mgrid[: volume.shape[0], : volume.shape[1], : volume.shape[2]]
    hole = sum(((grid[i] - c) / r) ** 2 for i, (c, r) in enumerate(zip((17, 20, 14), (6, 6, 5)))) <= 1  # across the midline
    cases = {  # name: (the array stored, its NIfTI slope and intercept, what one unit of the volume reads as)
        "native": (volume, None, 1.0),
        "times 1000": (volume * 1000.0, None, 1000.0),
        "int16 slope 2": (np.round((volume - 10.0) / 2.0).astype(np.int16), (2.0, 10.0), 1.0),  # read back scaled
    }
    nib.save(nib.Nifti1Image(hole.astype(np.uint8), image.affine), tmp_path / "mask.nii.gz")
    fills = {}
    for name, (values, scaling, unit) in cases.items():
        source = nib.Nifti1Image(values, image.affine)
        if scaling is not None:
            source.header.set_slope_inter(*scaling)
        nib.save(source, tmp_path / f"{name}.nii.gz")
        inpaint_file(tmp_path / f"{name}.nii.gz", str(tmp_path / "mask.nii.gz"), tmp_path / f"{name}_out.nii.gz", progress=False)
        given, filled = (nib.load(tmp_path / f"{name}{part}.nii.gz").get_fdata() for part in ("", "_out"))
        assert np.array_equal(filled[~hole], given[~hole])
        fills[name] = filled / unit
    error = np.abs(fills["native"] - volume)[hole].mean()
    for name in ("times 1000", "int16 slope 2"):
        difference = np.abs(fills[name] - fills["native"])[hole]
        assert difference.mean() < 0.03 * error and difference.max() < 0.03 * np.percentile(volume, 99.5), name
