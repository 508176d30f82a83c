"""The mirror guide (medinpaint.inpainting.mirror_guide) on a real T1: its plane, its weight, its fill."""


import nibabel as nib
import numpy as np
import pytest
from monai.data import MetaTensor
from conftest import REAL_T1, benchmark_module
from mask_builders import ellipsoid, make_seg, mr_series, read_series
from scipy import ndimage

from medinpaint.file_inpainting import inpaint_file
from medinpaint.fill_modes import volume_directions
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.inpainting.mirror_guide import guide_by_mirror, mirror_guided_fill
from medinpaint.inpainting.mirror_plane import fit_mirror_plane, left_right_axis
from medinpaint.inpainting.template_guide import guide_by_template
from medinpaint.pipeline import load_slices
from medinpaint.tissue_contrast import tissue_class_means, tissue_voxels
from medinpaint.transforms import SemanticInpaint





def test_guide_fills_a_real_t1_hole_from_the_other_side(real_t1):
    volume, affine = real_t1
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4))  # 347 voxels in the left hemisphere
    voided = np.where(hole, 0, volume).astype(np.float32)
    base = biharmonic_fill_3d(voided, (~hole).astype(np.float32))
    filled, guide = guide_by_mirror(voided, ~hole, base, affine[:3, :3])
    assert np.array_equal(filled[~hole], volume[~hole])
    assert guide.plane.correlation > 0.75 and len(guide.weights) == 1 and guide.weights[0] > 0.5 and guide.mirrored == (1.0,)
    assert np.abs(filled - volume)[hole].mean() < 0.8 * np.abs(base - volume)[hole].mean()


def test_guide_keeps_the_fill_where_the_hemispheres_differ(real_t1):
    """One half of the real T1 moved 6 mm and 4 mm: the mirror predicts the ring badly and gets a small weight."""
    volume, affine = real_t1
    moved = volume.copy()
    moved[:16] = np.roll(volume[:16], (3, 2), axis=(1, 2))
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4))
    voided = np.where(hole, 0, moved).astype(np.float32)
    base = biharmonic_fill_3d(voided, (~hole).astype(np.float32))
    filled, guide = guide_by_mirror(voided, ~hole, base, affine[:3, :3])
    assert guide.weights[0] < 0.3
    assert np.abs(filled - moved)[hole].mean() <= 1.01 * np.abs(base - moved)[hole].mean()


def test_dicom_series_directions_are_its_voxel_steps(tmp_path, real_t1):
    """An axial MR series of the real T1's slices (2 × 2 mm pixels, 3 mm apart): the volume's axes are
    (frames, columns, rows reversed), so its left-right axis is the second (the row direction)."""
    volume, _ = real_t1
    folder = mr_series(volume.transpose(2, 1, 0), (3.0, 2.0, 2.0), tmp_path / "series")
    directions = volume_directions(load_slices(folder))
    assert np.allclose(np.abs(directions), [[0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [3.0, 0.0, 0.0]])  # columns: the axes' world steps
    assert np.allclose(np.abs(left_right_axis(directions)), [0.0, 1.0, 0.0])


def test_cli_fill_is_guided_and_can_be_turned_off(tmp_path, real_t1):
    """inpaint_file's default (the 3-D fill, mirror guide on) against --no-mirror on a real T1 hole: closer to the truth, known voxels unchanged."""
    volume, affine = real_t1
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4))
    nib.save(nib.Nifti1Image(hole.astype(np.uint8), affine), tmp_path / "hole.nii.gz")
    errors = {}
    for mirror in (True, False):
        report = inpaint_file(REAL_T1, str(tmp_path / "hole.nii.gz"), tmp_path / f"out_{mirror}.nii.gz", mirror=mirror, progress=False)
        result = np.asanyarray(nib.load(tmp_path / f"out_{mirror}.nii.gz").dataobj)
        assert np.array_equal(result[~hole], volume[~hole])
        assert (report.mirror is not None) == mirror and ("mirror guide" in str(report)) == mirror
        errors[mirror] = np.abs(result - volume)[hole].mean()
    assert errors[True] < 0.8 * errors[False]


def test_transform_is_guided_like_the_cli(tmp_path, real_t1):
    """SemanticInpaint on a MetaTensor with the file's affine gives the CLI's guided fill (to the rounding)."""
    volume, affine = real_t1
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4))
    nib.save(nib.Nifti1Image(hole.astype(np.uint8), affine), tmp_path / "hole.nii.gz")
    inpaint_file(REAL_T1, str(tmp_path / "hole.nii.gz"), tmp_path / "out.nii.gz", progress=False)
    expected = np.asanyarray(nib.load(tmp_path / "out.nii.gz").dataobj).astype(np.float32)
    image = MetaTensor(volume[None], affine=affine)
    filled = SemanticInpaint(device="cpu")(image, hole[None].astype(np.float32))
    assert np.allclose(filled[0].numpy()[hole], expected[hole], atol=1.0)
    unguided = SemanticInpaint(mirror=False, device="cpu")(image, hole[None].astype(np.float32))
    assert np.abs(filled[0].numpy() - volume)[hole].mean() < np.abs(unguided[0].numpy() - volume)[hole].mean()


@pytest.mark.parametrize(
    "shape, hole, values",
    [
        ((60, 70, 3), (slice(20, 30), slice(30, 40), slice(0, 3)), "real"),  # thin volume, hole through all its slices
        ((33, 41, 25), (slice(None), slice(None), slice(12, 13)), "real"),  # a whole axial slice
        ((33, 41, 25), (slice(0, 4), slice(None), slice(None)), "real"),  # whole sagittal slices at the border
        ((33, 41, 25), (slice(10, 20), slice(10, 20), slice(5, 15)), "constant"),
        ((33, 41, 25), (slice(10, 20), slice(10, 20), slice(5, 15)), "zeros"),
        ((4, 4, 4), (slice(1, 2), slice(1, 2), slice(1, 2)), "real"),
    ],
)
def test_guide_never_fails_on_valid_volumes(real_t1, shape, hole, values):
    """Thin, tiny, flat and empty volumes and whole-slice holes: a fill comes back, known voxels unchanged."""
    volume = {"real": np.resize(real_t1[0], shape), "constant": np.full(shape, 7.0), "zeros": np.zeros(shape)}[values].astype(np.float32)
    known = np.ones(shape, bool)
    known[hole] = False
    fill = np.where(known, volume, 1.0).astype(np.float32)
    filled, guide = guide_by_mirror(volume, known, fill, np.diag([2.0, 2.0, 2.0]))
    assert np.array_equal(filled[known], volume[known]) and np.isfinite(filled).all()
    assert all(0.0 <= weight <= 1.0 for weight in guide.weights)


def test_guide_reads_no_hole_value(real_t1):
    """Two holes, their values zeros or far above the tissue: the same plane, weights and fill."""
    volume, affine = real_t1
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4)) | ellipsoid(volume.shape, (9, 28, 14), (3, 3, 3))
    results = []
    for hole_value in (0.0, 30000.0):
        given = np.where(hole, hole_value, volume).astype(np.float32)
        results.append(guide_by_mirror(given, ~hole, np.where(hole, 1.0, volume), affine[:3, :3]))
    (first, first_guide), (second, second_guide) = results
    assert len(first_guide.weights) == 2 and first_guide.weights == second_guide.weights
    assert np.array_equal(first, second)


def test_dicom_series_with_a_seg_is_guided(tmp_path, real_t1):
    """DICOM in, DICOM out: the real T1 as an axial MR series of 2 mm voxels and a DICOM-SEG over a
    hole in one hemisphere; the guided fill is closer to the truth than --no-mirror's."""
    volume, _ = real_t1
    frames = np.rint(volume.transpose(2, 1, 0))  # (z, rows = y, columns = x): x, the left-right axis, along the rows
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4)).transpose(2, 1, 0)
    folder = mr_series(frames, (2.0, 2.0, 2.0), tmp_path / "series")
    seg = make_seg(read_series(folder), hole[..., None], ["lesion"], tmp_path / "seg.dcm")
    errors = {}
    for mirror in (True, False):
        report = inpaint_file(folder, str(seg), tmp_path / f"out_{mirror}", mirror=mirror, progress=False)
        result = np.stack([ds.pixel_array for ds in sorted(read_series(tmp_path / f"out_{mirror}"), key=lambda ds: int(ds.InstanceNumber))])
        assert np.array_equal(result[~hole], frames[~hole])
        assert (report.mirror is not None) == mirror
        errors[mirror] = np.abs(result.astype(float) - frames)[hole].mean()
    assert report.fill_grid == (1, 1, 1) and errors[True] < 0.8 * errors[False]


def test_a_lesion_across_the_midline_from_the_hole_and_its_ring_turns_the_guide_off(real_t1):
    """A dark lesion over the reflection of the hole and of its ring: the ring sees it, the weight is 0
    and the fill given is kept. (One inside the reflection of the hole only, the ring cannot see:
    docs/method.md §10 says so, and that the mask should cover every lesion.)"""
    volume, affine = real_t1
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4))
    lesioned = np.where(ellipsoid(volume.shape, (9.6, 20, 12), (6, 7, 6)), 0.45 * np.percentile(volume, 99), volume).astype(np.float32)
    voided = np.where(hole, 0, lesioned).astype(np.float32)
    base = biharmonic_fill_3d(voided, (~hole).astype(np.float32))
    filled, guide = guide_by_mirror(voided, ~hole, base, affine[:3, :3])
    assert guide.weights == (0.0,) and np.array_equal(filled[hole], base[hole].astype(np.float32))


def test_a_voided_region_at_the_reflection_is_not_read(real_t1):
    """A region voided to 0 (as BraTS voids a tumour) but not in the mask, inside the reflection of the
    hole and not of its ring: the guide does not paste its zeros (before: hole MAE 2 334 against the
    fill given's 966); the rest of the hole is still guided, closer to the truth than the fill given."""
    volume, affine = real_t1
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4))
    voided = np.where(hole | ellipsoid(volume.shape, (9.6, 20, 12), (3, 3, 3)), 0, volume).astype(np.float32)
    base = biharmonic_fill_3d(voided, (~hole).astype(np.float32))
    filled, guide = guide_by_mirror(voided, ~hole, base, affine[:3, :3])
    assert guide.weights[0] > 0.5
    assert np.abs(filled - volume)[hole].mean() < 0.95 * np.abs(base - volume)[hole].mean()
    assert np.array_equal(filled[~hole], voided[~hole])


def test_a_voided_region_open_to_the_edge_is_not_read(real_t1):
    """A region voided to 0 from the volume's edge into the reflection of the hole (as a tumour voided up
    to a skull-stripped brain's surface joins the background; no tissue encloses it): not read, so the
    plane is fitted on anatomy and the hole's part with a mirror image is guided. (Before, when only
    enclosed zeros were left out: plane correlation 0.66, weight 0.14, hole MAE 993 against the fill
    given's 966; now 0.81, 0.89 and 757.)"""
    volume, affine = real_t1
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4))
    void = np.zeros(volume.shape, bool)
    void[:10, 14:27, 7:18] = True  # the outer part of the reflection, out to the volume's face x = 0
    voided = np.where(hole | void, 0, volume).astype(np.float32)
    base = biharmonic_fill_3d(voided, (~hole).astype(np.float32))
    filled, guide = guide_by_mirror(voided, ~hole, base, affine[:3, :3])
    assert guide.plane.correlation > 0.75 and guide.weights[0] > 0.5 and 0.1 < guide.mirrored[0] < 0.5
    assert np.abs(filled - volume)[hole].mean() < 0.85 * np.abs(base - volume)[hole].mean()
    assert np.array_equal(filled[~hole], voided[~hole])


@pytest.mark.parametrize("thick", [True, False])
def test_a_hole_across_the_midline_meets_its_own_reflection_when_thick(real_t1, thick):
    """The real T1's left half and its mirror image (symmetric about x = 15.5), a hole across the
    midline, a fill given with opposite errors on the two sides. Where a voxel's reflection is in the
    hole too, a thick hole's fill meets its reflection's halfway and the errors cancel; a hole one
    slice thin, which its neighbours fill almost exactly, keeps the fill given there."""
    volume, affine = real_t1
    symmetric = np.concatenate([volume[:16], volume[:16][::-1]]).astype(np.float32)
    hole = ellipsoid(symmetric.shape, (15.5, 20, 12), (5, 5, 4))
    if not thick:
        hole[:, :, :12] = hole[:, :, 13:] = False
    side = np.where(np.arange(32)[:, None, None] < 16, 1.0, -1.0)
    given = np.where(hole, symmetric + 300.0 * side, symmetric).astype(np.float32)
    filled, guide = guide_by_mirror(np.where(hole, 0, symmetric), ~hole, given, affine[:3, :3])
    assert guide.weights[0] > 0.9
    across = ndimage.binary_erosion(hole & hole[::-1]) if thick else hole & hole[::-1]  # reflection in the hole
    error = np.abs(filled - symmetric)[across].mean()
    assert across.sum() > 20 and (error < 60.0 if thick else error == pytest.approx(300.0, rel=1e-3))
    assert np.array_equal(filled[~hole], symmetric[~hole])


def test_voxels_with_no_mirror_image_are_corrected_like_their_neighbours(real_t1):
    """A hole across the midline of the symmetric real T1, off centre, and a fill given 300 too bright
    everywhere: the voxels whose reflection is known are guided to the truth, and the correction
    continues into those whose reflection is in the hole, fading towards the known voxels around
    (about 140 left; before, they kept the 300: pairing a fill with itself cannot see an error it
    shares)."""
    volume, affine = real_t1
    symmetric = np.concatenate([volume[:16], volume[:16][::-1]]).astype(np.float32)
    hole = ellipsoid(symmetric.shape, (13, 20, 12), (5, 5, 4))
    given = np.where(hole, symmetric + 300.0, symmetric).astype(np.float32)
    filled, guide = guide_by_mirror(np.where(hole, 0, symmetric), ~hole, given, affine[:3, :3])
    across = hole & hole[::-1]  # reflection in the hole
    assert guide.weights[0] > 0.9 and across.sum() > 50 and (hole & ~across).sum() > 50
    assert guide.mirrored[0] == pytest.approx((hole & ~across).sum() / hole.sum(), abs=0.05)  # the report's share
    assert f"({guide.mirrored[0]:.0%})".replace("%", " %") in str(guide)
    assert not guide.unmirrored[~hole].any() and (guide.unmirrored == across)[hole].mean() > 0.95  # where the template guide may act
    assert guide.unmirrored[hole].mean() == pytest.approx(1.0 - guide.mirrored[0])
    assert np.abs(filled - symmetric)[hole & ~across].mean() < 100.0
    assert np.abs(filled - symmetric)[across].mean() < 200.0
    assert np.array_equal(filled[~hole], symmetric[~hole])


def test_the_benchmarks_asymmetric_warp_moves_voxels_by_at_most_the_mm_asked(real_t1):
    """``bench_brats_protocol --asymmetry``: a volume that is its own x coordinate in mm (2 mm voxels)
    moves by the field's x displacement, at most the millimetres asked and most of them somewhere;
    on the real T1 the fitted plane then correlates less than after a smoothing shift alone."""
    warp = benchmark_module("bench_brats_protocol").asymmetric_warp
    volume, affine = real_t1
    spacing = nib.affines.voxel_sizes(affine)
    ramp = (np.arange(volume.shape[0])[:, None, None] * spacing[0] + 100.0) * np.ones(volume.shape, np.float32)
    moved = np.abs(warp(ramp, spacing, 3.0, np.random.default_rng(0)) - ramp)[2:-2, 2:-2, 2:-2]  # inside: no edge clamping
    assert moved.max() <= 3.0 + 1e-3 and moved.max() > 1.5
    correlation = lambda image: fit_mirror_plane(image, np.ones(image.shape), spacing, left_right_axis(affine[:3, :3])).correlation
    smoothed = ndimage.shift(volume, (0.5, 0.5, 0.5), order=3, mode="nearest")
    assert correlation(warp(volume, spacing, 6.0, np.random.default_rng(2))) < correlation(smoothed) - 0.05


def test_the_benchmarks_other_contrasts_reorder_the_real_t1s_tissue_classes(real_t1):
    """``bench_brats_protocol --contrast``: the real T1's CSF, grey and white matter voxels (by its own
    classes) come out brightest to darkest as T2, and grey matter brightest, CSF darkest as FLAIR."""
    bench = benchmark_module("bench_brats_protocol")
    volume, _ = real_t1
    classes = tissue_class_means(tissue_voxels(volume, np.ones(volume.shape, bool)))
    nearest = np.abs(volume[..., None] - classes).argmin(-1)
    tissue = volume > 0.5 * classes[0]
    for contrast, order in (("t2", [0, 1, 2]), ("flair", [1, 2, 0])):  # classes from brightest to darkest
        remapped = bench.other_contrast(volume, contrast)
        means = np.array([remapped[tissue & (nearest == k)].mean() for k in range(3)])
        assert np.argsort(-means).tolist() == order, (contrast, means)
        assert np.array_equal(remapped == 0, volume == 0)


def test_the_benchmarks_holes_in_keeps_every_tumour_hole_inside_the_given_region(real_t1):
    """``bench_brats_protocol --holes-in``: with a region (a brain mask less a lesion, here the real T1's
    first half along its first axis) every hole lies inside it; without one, holes fall in both halves."""
    bench = benchmark_module("bench_brats_protocol")
    volume, affine = real_t1
    spacing = nib.affines.voxel_sizes(affine)
    within = np.zeros(volume.shape, bool)
    within[: volume.shape[0] // 2] = True
    inside = [bench.tumour_hole(volume, np.random.default_rng(seed), "volume", spacing, (8.0, 16.0), within) for seed in range(4)]
    anywhere = [bench.tumour_hole(volume, np.random.default_rng(seed), "volume", spacing, (8.0, 16.0)) for seed in range(4)]
    assert all(hole.any() and not (hole & ~within).any() for hole in inside)
    assert any((hole & ~within).any() for hole in anywhere)


def test_the_benchmarks_reflection_void_hides_half_the_reflection_out_to_the_edge(real_t1):
    """``bench_brats_protocol --void-reflection``: a hole in the left hemisphere gets a void on the right,
    outside the hole, over part of its reflection and out to the volume's face; the guide then reads
    the rest of the reflection."""
    bench = benchmark_module("bench_brats_protocol")
    volume, affine = real_t1
    spacing = nib.affines.voxel_sizes(affine)
    plane = fit_mirror_plane(volume, np.ones(volume.shape), spacing, left_right_axis(affine[:3, :3]))
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4))
    void = bench.reflection_void(volume, hole, spacing, plane)
    reflection = ellipsoid(volume.shape, (2 * plane.point[0] / spacing[0] - 23, 20, 12), (4, 5, 4))
    assert not (void & hole).any() and void[0].any() and not void[17:].any()
    assert 0.3 < (void & reflection).sum() / reflection.sum() < 0.7
    _, guide = guide_by_mirror(np.where(hole | void, 0, volume).astype(np.float32), ~hole, volume, affine[:3, :3])
    assert 0.3 < guide.mirrored[0] < 0.7


def test_a_clipped_difference_keeps_a_guide_misplaced_beside_the_hole_out_of_it(real_t1):
    """A guide that differs from the real T1 by a smooth field (another contrast) fills the hole as
    well clipped as not; made 3000 too bright on one side of the hole's rim as well (an edge of a
    template placed a voxel off), its difference continued as it is darkens the fill by about 1700,
    clipped to the median ± 2 robust spreads by under a quarter of that."""
    volume, _ = real_t1
    volume = volume.astype(np.float32)
    hole = ellipsoid(volume.shape, (10, 20, 12), (4, 5, 4))
    beside = ndimage.binary_dilation(hole, iterations=2) & ~hole
    beside[:, :20] = False  # one side of the rim
    field = ndimage.gaussian_filter(np.random.default_rng(0).standard_normal(volume.shape), 4)
    guide = (volume + 500.0 * field / field.std()).astype(np.float32)
    clean = {clip: np.abs(mirror_guided_fill(volume, ~hole, hole, guide, clip) - volume)[hole].mean() for clip in (None, 2.0)}
    guide[beside] += 3000.0
    edge = {clip: np.abs(mirror_guided_fill(volume, ~hole, hole, guide, clip) - volume)[hole].mean() for clip in (None, 2.0)}
    assert clean[2.0] < 20.0 and clean[None] < 20.0 and beside.sum() > 30
    assert edge[None] > 1000.0 and edge[2.0] < 0.25 * edge[None]


def test_a_lesion_load_shows_the_guides_progress_over_its_holes(real_t1, capsys):
    """Several holes (a lesion load): each guide shows a bar over the holes it guides, on stderr,
    when asked; one hole or ``progress=False``: no bar (a single hole's guide takes a few seconds)."""
    volume, affine = real_t1
    lesions = ellipsoid(volume.shape, (23, 20, 12), (2, 2, 2)) | ellipsoid(volume.shape, (10, 30, 7), (2, 2, 2))
    midline = ellipsoid(volume.shape, (16, 12, 14), (2, 2, 2)) | ellipsoid(volume.shape, (16, 28, 10), (2, 2, 2))  # no mirror image
    hole = lesions | midline
    voided = np.where(hole, 0, volume).astype(np.float32)
    base = biharmonic_fill_3d(voided, (~hole).astype(np.float32))
    filled, guide = guide_by_mirror(voided, ~hole, base, affine[:3, :3], progress=True)
    guide_by_template(voided, ~hole, ~hole, filled, affine[:3, :3], guide.unmirrored, progress=True)
    shown = capsys.readouterr().err
    assert "mirror guide" in shown and "4/4" in shown
    assert "template guide" in shown and "2/2" in shown
    guide_by_mirror(voided, ~hole, base, affine[:3, :3])
    single = ellipsoid(volume.shape, (23, 20, 12), (2, 2, 2))
    guide_by_mirror(np.where(single, 0, volume).astype(np.float32), ~single, base, affine[:3, :3], progress=True)
    assert capsys.readouterr().err == ""
