"""The template guide (medinpaint.inpainting.template_guide, template_placement) on a real T1: its placement, its fill, where it acts."""

import dataclasses

import nibabel as nib
import numpy as np
import pytest
import torch
from conftest import benchmark_module
from mask_builders import ellipsoid, mr_series
from nibabel.processing import resample_from_to

from medinpaint.checkpoint import load_models
from medinpaint.data.sample import sample_path
from medinpaint.fill_modes import volume_directions, volume_origin
from medinpaint.inpainting import template_guide, template_placement
from medinpaint.inpainting.biharmonic3d import biharmonic_fill_3d
from medinpaint.inpainting.mirror_guide import guide_by_mirror
from medinpaint.inpainting.template_guide import MIN_CORRELATION, guide_by_template
from medinpaint.inpainting.template_placement import GRIDS_MM, SAME_PLACEMENT_MM, _distinct_placements, _points, _template, place_template
from medinpaint.pipeline import load_slices
from medinpaint.transforms.array import IntensityToUnit
from medinpaint.volume_inpainting import inpaint_volume

MIDLINE = (16, 22, 13)  # voxel x = 16 is world x = 0


@pytest.fixture(scope="module")
def models():
    return load_models(device="cpu")


def test_the_template_is_placed_where_the_real_t1s_world_coordinates_put_it_and_fits_it_better(real_t1):
    """No world origin is read (a crop 20 mm off the brain's centre): the shifts' grid finds it."""
    volume, affine = real_t1
    placed = place_template(volume, np.ones(volume.shape, bool), affine[:3, :3])
    values, brain = placed.sample(tuple(slice(0, n) for n in volume.shape))
    by_header = np.asarray(resample_from_to(nib.load(sample_path()), (volume.shape, affine), order=1).dataobj)
    inside = (brain > 0.5) & (by_header > 0)
    assert inside.mean() > 0.8  # the crop lies inside the template's brain
    assert np.corrcoef(values[inside], by_header[inside])[0, 1] > 0.85
    assert placed.correlation > np.corrcoef(by_header[inside], volume[inside])[0, 1]


def test_the_placed_template_samples_the_same_on_any_number_of_threads_and_torch_keeps_its_threads(real_t1):
    """grid_sample's points are split over torch's threads (one batch item each, the last padded): the
    values do not depend on how many there are, an odd number of points included; the placement's
    refinements run on one thread and hand torch its threads back."""
    volume, affine = real_t1
    threads = torch.get_num_threads()
    placed = place_template(volume, np.ones(volume.shape, bool), affine[:3, :3])
    assert torch.get_num_threads() == threads
    box = (slice(3, 14), slice(5, 18), slice(2, 9))  # 11 x 13 x 7 = 1 001 voxels
    samples = []
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            samples.append(placed.sample(box))
    finally:
        torch.set_num_threads(threads)
    assert samples[0][0].shape == (11, 13, 7) and samples[0][1].max() > 0.5
    for values, brain in samples[1:]:
        assert np.array_equal(values, samples[0][0]) and np.array_equal(brain, samples[0][1])


def test_placements_less_than_one_coarse_step_apart_are_refined_once(real_t1):
    """Coarse placements (shift, parameters, fit) that put every point of the real T1 within
    SAME_PLACEMENT_MM (the coarse grid's 6 mm step) of where a better one puts it are one placement:
    only the best is kept for the fine grid, as for coarse refinements that stopped at their step
    limit a few mm apart; a placement 8 mm or 10° from it is another."""
    volume, affine = real_t1
    world = _points(volume, np.ones(volume.shape, bool), affine[:3, :3], 6.0)[0]
    centre, shift = _template().centre, torch.zeros(3)
    best = np.r_[0.1, -0.2, 0.3, 0.02, 0.0, -0.03, 0.1]  # cm, radians, the scale's logit
    nudged, near, moved, turned = best.copy(), best.copy(), best.copy(), best.copy()
    nudged[0] += 0.03  # 0.3 mm
    near[1] += 0.4  # 4 mm: the coarse grid cannot tell it from the best
    moved[1] += 0.8  # 8 mm
    turned[5] += np.radians(10.0)  # about the template's centre: moves the crop's points by 3.8-21 mm
    coarse = [(shift, nudged, 0.58), (shift, best, 0.60), (shift, near, 0.59), (shift, moved, 0.55), (shift, turned, 0.50)]
    kept = _distinct_placements(coarse, world, centre)
    assert SAME_PLACEMENT_MM == GRIDS_MM[0] == 6.0
    assert [parameters.tolist() for _, parameters in kept] == [best.tolist(), moved.tolist(), turned.tolist()]


def test_a_head_smaller_than_the_template_is_placed_at_its_size(real_t1):
    """The real T1 stored as a head 0.8 times its size (its voxels 1.6 mm, no resampling): the
    placement finds the head 0.8 times the size it finds for the T1 as stored, and puts the same
    template values on its voxels (a scale within ±15 % stopped at 0.86: correlation with the
    input 0.56 against 0.64, with the first placement's values 0.83)."""
    volume, affine = real_t1
    readable, box = np.ones(volume.shape, bool), tuple(slice(0, n) for n in volume.shape)
    as_stored = place_template(volume, readable, affine[:3, :3])
    smaller = place_template(volume, readable, 0.8 * affine[:3, :3])
    assert smaller.head_size / as_stored.head_size == pytest.approx(0.8, abs=0.02)
    assert smaller.correlation > as_stored.correlation - 0.01
    values, brain = as_stored.sample(box)
    small_values, small_brain = smaller.sample(box)
    inside = (brain > 0.5) & (small_brain > 0.5)
    assert np.corrcoef(values[inside], small_values[inside])[0, 1] > 0.98


def test_a_dicom_series_of_the_real_t1_places_the_template_as_its_nifti_does(tmp_path, real_t1):
    """An axial series of the real T1 (rows posterior, columns left, as LPS has them): its volume
    directions and origin are turned from LPS to RAS (volume_directions, volume_origin), so the
    same head is placed alike."""
    volume, affine = real_t1
    folder = mr_series(volume.transpose(2, 1, 0)[:, ::-1], (2.0, 2.0, 2.0), tmp_path / "series")
    loaded = load_slices(folder)
    series = np.rint(volume).transpose(2, 0, 1)  # the volume the series makes: frames, columns, rows reversed
    directions, origin = volume_directions(loaded), volume_origin(loaded)
    assert np.allclose(directions, [[0.0, -2.0, 0.0], [0.0, 0.0, 2.0], [2.0, 0.0, 0.0]])  # RAS steps of those axes
    assert np.allclose(origin, [0.0, -80.0, 0.0])  # the first frame's last row, first column
    from_dicom = place_template(series, np.ones(series.shape, bool), directions, origin)
    from_nifti = place_template(volume, np.ones(volume.shape, bool), affine[:3, :3], affine[:3, 3])
    assert from_dicom.correlation == pytest.approx(from_nifti.correlation, abs=0.02)


def test_a_hole_across_the_midline_of_a_real_t1_is_filled_closer_to_the_truth(real_t1):
    volume, affine = real_t1
    hole = ellipsoid(volume.shape, MIDLINE, (4, 5, 4))
    voided = np.where(hole, 0, volume).astype(np.float32)
    base = biharmonic_fill_3d(voided, (~hole).astype(np.float32))
    mirrored, mirror = guide_by_mirror(voided, ~hole, base, affine[:3, :3])
    filled, guide = guide_by_template(voided, ~hole, ~hole, mirrored, affine[:3, :3], mirror.unmirrored)
    assert np.array_equal(filled[~hole], volume[~hole])
    assert guide.correlation > 0.55 and guide.weights[0] > 0.5 and guide.unmirrored[0] > 0.5
    assert np.abs(filled - volume)[hole].mean() < 0.9 * np.abs(mirrored - volume)[hole].mean()
    assert guide.head_size == pytest.approx(0.98, abs=0.03)  # SPM-normalised: about the template's size
    assert f"template placed with correlation {guide.correlation:.2f} (the head {guide.head_size:.2f} x its size)" in str(guide)


def test_a_t2_like_real_t1_is_placed_with_its_tissue_order_reversed_and_filled_closer(real_t1):
    """The real T1 remapped to a T2-like contrast (``bench_brats_protocol --contrast t2``: CSF bright,
    white matter dark): the template placed as for a T1 correlates below MIN_CORRELATION, placed on the
    values negated it fits as well as on the T1, and mapped onto the classes in reverse order it
    fills a hole across the midline closer to the truth than the mirror guide alone; the T1 itself
    placed negated fits below MIN_CORRELATION (a T1 is never guided in reverse)."""
    volume, affine = real_t1
    t2 = benchmark_module("bench_brats_protocol").other_contrast(volume, "t2")
    hole = ellipsoid(volume.shape, MIDLINE, (4, 5, 4))
    voided = np.where(hole, 0, t2).astype(np.float32)
    mirrored, mirror = guide_by_mirror(voided, ~hole, biharmonic_fill_3d(voided, (~hole).astype(np.float32)), affine[:3, :3])
    filled, guide = guide_by_template(voided, ~hole, ~hole, mirrored, affine[:3, :3], mirror.unmirrored)
    assert place_template(voided, ~hole, affine[:3, :3]).correlation < MIN_CORRELATION
    assert place_template(volume, np.ones(volume.shape, bool), affine[:3, :3], inverted=True).correlation < MIN_CORRELATION
    assert guide.inverted and guide.correlation > 0.55 and guide.weights[0] > 0.5
    assert np.array_equal(filled[~hole], t2[~hole])
    assert np.abs(filled - t2)[hole].mean() < 0.8 * np.abs(mirrored - t2)[hole].mean()
    assert f"template placed with correlation {guide.correlation:.2f} to the input's contrast reversed" in str(guide)


def test_the_template_weighs_its_ring_check_times_the_gain_and_fills_closer_for_it(real_t1, monkeypatch):
    """The ring check weighs the template against biharmonic filling beside known tissue; in the hole
    it replaces a fill that is worse there, so the hole takes WEIGHT_GAIN times the ring's weight."""
    volume, affine = real_t1
    hole = ellipsoid(volume.shape, (16, 18, 15), (5, 4, 4))  # across the midline
    voided = np.where(hole, 0, volume).astype(np.float32)
    mirrored, mirror = guide_by_mirror(voided, ~hole, biharmonic_fill_3d(voided, (~hole).astype(np.float32)), affine[:3, :3])
    gain = template_guide.WEIGHT_GAIN
    gained, guide = guide_by_template(voided, ~hole, ~hole, mirrored, affine[:3, :3], mirror.unmirrored)
    monkeypatch.setattr(template_guide, "WEIGHT_GAIN", 1.0)
    ringed, ring = guide_by_template(voided, ~hole, ~hole, mirrored, affine[:3, :3], mirror.unmirrored)
    assert 0.0 < ring.weights[0] < 1.0 / gain  # not clipped at 1 once gained
    assert gain > 1.0 and guide.weights[0] == pytest.approx(gain * ring.weights[0])
    assert np.abs(gained - volume)[hole].mean() < np.abs(ringed - volume)[hole].mean()


def test_a_hole_the_mirror_sees_whole_places_no_template(real_t1):
    volume, affine = real_t1
    hole = ellipsoid(volume.shape, (23, 20, 12), (4, 5, 4))  # left hemisphere, its reflection known
    voided = np.where(hole, 0, volume).astype(np.float32)
    mirrored, mirror = guide_by_mirror(voided, ~hole, biharmonic_fill_3d(voided, (~hole).astype(np.float32)), affine[:3, :3])
    filled, guide = guide_by_template(voided, ~hole, ~hole, mirrored, affine[:3, :3], mirror.unmirrored)
    assert guide.correlation is None and guide.weights == (0.0,) and guide.unmirrored == (0.0,)
    assert np.array_equal(filled, mirrored)


def test_only_a_model_trained_on_the_embedded_template_is_guided_by_it(real_t1, models):
    volume, affine = real_t1
    hole = ellipsoid(volume.shape, MIDLINE, (4, 5, 4))
    known = (~hole).astype(np.float32)
    intensity = IntensityToUnit(*np.percentile(volume, [0.5, 99.5]))
    guided = inpaint_volume(volume, known, models, intensity, method="network", spacing=(2.0, 2.0, 2.0), directions=affine[:3, :3])
    other = dataclasses.replace(models, config=dataclasses.replace(models.config, data="folder"))
    unguided = inpaint_volume(volume, known, other, intensity, method="network", spacing=(2.0, 2.0, 2.0), directions=affine[:3, :3])
    assert guided.mirror.template.correlation > 0.55 and unguided.mirror.template is None
    assert "template placed" in str(guided.mirror) and "template" not in str(unguided.mirror)
    assert np.abs(guided.filled - volume)[hole].mean() < np.abs(unguided.filled - volume)[hole].mean()


def shuffled_in_blocks(volume: np.ndarray) -> np.ndarray:
    """The real T1's voxels shuffled in blocks of 4: its intensities, no brain's layout (32, 40, 24)."""
    blocks = volume[:32, :40, :24].reshape(8, 4, 10, 4, 6, 4).transpose(0, 2, 4, 1, 3, 5).reshape(480, 4, 4, 4)
    return blocks[np.random.default_rng(0).permutation(480)].reshape(8, 10, 6, 4, 4, 4).transpose(0, 3, 1, 4, 2, 5).reshape(32, 40, 24)


def test_one_sign_is_refined_as_the_coarse_scan_chooses_and_a_misfit_never_on_the_fine_grid(real_t1, monkeypatch):
    """``inverted=None``: the real T1 is refined as it is, its T2-like remap negated, each from the
    STARTS best starts and the world origin on the coarse grid once (no second try); the shuffled
    real T1 fits below GIVE_UP_FIT on the coarse grid and is not refined on the fine grid."""
    volume, affine = real_t1
    refined = []

    def counted(level, points, shift, start, steps):
        refined.append(steps)
        return refine(level, points, shift, start, steps)

    refine = template_placement._refine
    monkeypatch.setattr(template_placement, "_refine", counted)
    t2 = benchmark_module("bench_brats_protocol").other_contrast(volume, "t2")
    for image, inverted, fine in ((volume, False, True), (t2, True, True), (shuffled_in_blocks(volume), None, False)):
        refined.clear()
        placed = place_template(image, np.ones(image.shape, bool), affine[:3, :3], affine[:3, 3], inverted=None)
        coarse = refined.count(template_placement.STEPS[0])
        assert coarse == template_placement.STARTS + 1 and (len(refined) > coarse) == fine
        assert placed.correlation > 0.55 if fine else placed.correlation < MIN_CORRELATION
        assert inverted is None or placed.inverted == inverted


def test_a_t1_whose_scan_prefers_the_wrong_sign_is_placed_on_its_own_once_both_are_refined(real_t1, monkeypatch):
    """The real T1 deformed 3 mm, turned (yaw 12°, roll −8°, 7 mm), biased ±10 % and stored as a head
    0.95 × 0.9 × 0.85 its size at once (the benchmark's "all at once" subject): the coarse scan's best
    start fits its values negated better, but refined on the fine grid that placement correlates below
    MIN_CORRELATION (at the largest scale allowed), so the other sign is refined too and kept: the
    placement on its own contrast, as ``inverted=False`` finds it."""
    volume, affine = real_t1
    bench = benchmark_module("bench_brats_protocol")
    spacing = nib.affines.voxel_sizes(affine)
    subject = bench.asymmetric_warp(volume, spacing, 3.0, np.random.default_rng(2))
    subject = bench.left_right_bias(bench.head_pose(subject, spacing, 12.0, -8.0, 7.0), 0.1)
    affine = bench.resized_head(affine, subject.shape, (0.95, 0.9, 0.85))
    readable = subject != 0
    signs = []  # each sign's best start fit, as the scan found it
    starts = template_placement._starts

    def recorded(template, points, shift):
        found = starts(template, points, shift)
        signs.append(found[0])
        return found

    monkeypatch.setattr(template_placement, "_starts", recorded)
    placed = place_template(subject, readable, affine[:3, :3], affine[:3, 3], inverted=None)
    assert signs[1] > signs[0]  # the scan prefers the values negated
    monkeypatch.undo()
    negated = place_template(subject, readable, affine[:3, :3], affine[:3, 3], inverted=True)
    own = place_template(subject, readable, affine[:3, :3], affine[:3, 3], inverted=False)
    assert negated.correlation < MIN_CORRELATION <= own.correlation
    assert not placed.inverted and placed.correlation == own.correlation


def test_a_template_that_does_not_fit_the_image_is_not_used(real_t1):
    """The real T1's voxels shuffled in blocks of 4 (its intensities, no brain's layout): the best
    placement correlates below MIN_CORRELATION, and the fill given is kept."""
    volume, affine = real_t1
    shuffled = shuffled_in_blocks(volume)
    hole = ellipsoid(shuffled.shape, (16, 20, 12), (4, 5, 4))
    voided = np.where(hole, 0, shuffled).astype(np.float32)
    fill = biharmonic_fill_3d(voided, (~hole).astype(np.float32))
    filled, guide = guide_by_template(voided, ~hole, ~hole, fill, affine[:3, :3], None, affine[:3, 3])
    assert guide.correlation < MIN_CORRELATION and guide.weights == (0.0,)
    assert np.array_equal(filled, fill.astype(np.float32)) and "not used" in str(guide)
    assert f"(the head {guide.head_size:.2f} x its size), below {MIN_CORRELATION}" in str(guide)  # the size it was placed at, as a clue
