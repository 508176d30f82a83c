"""The 3-D biharmonic fill: scikit-image's equations and solution, on holes in the real template."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg
from skimage.restoration import inpaint_biharmonic

from medinpaint.data.sample import sample_volume
from medinpaint.errors import MedinpaintError
from scipy import ndimage

from medinpaint.inpainting import biharmonic3d
from medinpaint.inpainting.biharmonic3d import BIHARMONIC_MARGIN, PRECONDITIONED_FROM, _system, biharmonic_fill_3d, reflected_laplacian
from medinpaint.inpainting.poisson3d import hole_box


def ellipsoids(shape: tuple[int, int, int], *parts: tuple[tuple[int, int, int], tuple[int, int, int]]) -> np.ndarray:
    """The union of axis-aligned ellipsoids (centre, semi-axes) in a grid of ``shape``."""
    grid = np.indices(shape)
    return np.any([sum(((grid[i] - c) / r) ** 2 for i, (c, r) in enumerate(zip(centre, radii))) <= 1 for centre, radii in parts], axis=0)


@pytest.fixture(scope="module")
def template() -> np.ndarray:
    return sample_volume()[0].astype(np.float64)


def scikit_image_fill(volume: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """scikit-image's 3-D biharmonic fill on the same box (what biharmonic_fill_3d used to call)."""
    box = hole_box(hole, margin=BIHARMONIC_MARGIN)
    filled = volume.copy()
    filled[box] = inpaint_biharmonic(np.where(hole[box], 0.0, volume[box]), hole[box])
    return filled


def test_system_rows_are_the_bilaplacian_scikit_image_uses_inside_and_at_the_border():
    shape = (7, 6, 5)
    laplacian = reflected_laplacian(shape)
    bilaplacian = (laplacian @ laplacian).toarray()
    for voxel in [(3, 3, 2), (0, 2, 2), (1, 0, 4), (6, 5, 0)]:  # inside, on a face, near an edge, a corner
        delta = np.zeros(shape)
        delta[voxel] = 1.0
        stencil = ndimage.laplace(ndimage.laplace(delta))  # scikit-image's (truncated) kernel, mode "reflect"
        assert np.array_equal(bilaplacian[np.ravel_multi_index(voxel, shape)].reshape(shape), stencil)
    assert (laplacian != laplacian.T).nnz == 0  # symmetric: conjugate gradients apply at the border too


def test_tumour_sized_hole_in_the_template_gets_scikit_image_fill(template):
    hole = ellipsoids(template.shape, ((90, 110, 60), (9, 7, 6)), ((96, 116, 64), (6, 8, 5)))  # 2 500 voxels of tissue
    known = (~hole).astype(np.float32)
    filled = biharmonic_fill_3d(template, known)
    reference = scikit_image_fill(template, hole)
    assert filled.dtype == np.float64 and np.array_equal(filled[~hole], template[~hole])  # known voxels bit for bit
    assert np.abs(filled[hole] - reference[hole]).max() < 1e-4  # 0–255 scale
    assert np.abs(filled[hole] - template[hole]).mean() > 1.0  # a real hole: not trivially the truth


def test_hole_at_the_volume_border_gets_scikit_image_fill(template):
    crop = template[60:100, 90:130, 40:80]
    hole = ellipsoids(crop.shape, ((1, 20, 20), (6, 7, 5)))  # touches the first sagittal plane
    filled = biharmonic_fill_3d(crop, (~hole).astype(np.float32))
    assert np.array_equal(filled[~hole], crop[~hole])
    assert np.abs(filled - scikit_image_fill(crop, hole)).max() < 1e-4


def test_whole_missing_slices_are_filled_from_their_neighbours(template):
    known = np.ones(template.shape, np.float32)
    known[:, :, 110:112] = 0  # two whole axial slices: the hole spans the volume in-plane
    filled = biharmonic_fill_3d(template, known)
    hole = known < 0.5
    between = (template[:, :, 109:110] + template[:, :, 112:113]) / 2  # the mean of the slices either side
    assert np.array_equal(filled[~hole], template[~hole])
    assert np.abs(filled[hole] - template[hole]).mean() < 0.8 * np.abs(between - template[:, :, 110:112]).mean()
    with pytest.raises(MedinpaintError, match="covers the whole volume"):
        biharmonic_fill_3d(template[:8, :8, :8], np.zeros((8, 8, 8)))


def test_fill_is_clipped_to_the_known_range_like_scikit_image():
    crop = np.zeros((30, 30, 30))
    hole = ellipsoids(crop.shape, ((15, 15, 15), (6, 6, 6)))
    crop[8] = 255.0  # a bright plane next to the hole: the exact solution dips below 0 past it
    box = hole_box(hole, margin=BIHARMONIC_MARGIN)
    system, rhs = _system(crop[box], hole[box])
    assert scipy.sparse.linalg.spsolve(system.tocsc(), rhs).min() < -1.0  # what the clip is for
    filled = biharmonic_fill_3d(crop, (~hole).astype(np.float32))
    assert filled[hole].min() == 0.0 and filled[hole].max() <= 255.0
    assert np.abs(filled - scikit_image_fill(crop, hole)).max() < 1e-4



@pytest.fixture
def cg_calls(monkeypatch) -> list[tuple[bool, int]]:
    """Each conjugate-gradient solve from here on, as (preconditioned, iterations)."""
    calls, plain_cg = [], scipy.sparse.linalg.cg

    def counted_cg(*args, **kwargs):
        count = [0]
        solution = plain_cg(*args, callback=lambda _: count.__setitem__(0, count[0] + 1), **kwargs)
        calls.append((kwargs.get("M") is not None, count[0]))
        return solution

    monkeypatch.setattr(scipy.sparse.linalg, "cg", counted_cg)
    return calls


def test_a_large_deep_hole_is_solved_by_preconditioned_cg_in_tens_of_iterations_to_the_same_fill(template, cg_calls, monkeypatch):
    hole = ellipsoids(template.shape, ((98, 116, 70), (21, 19, 16)))  # 26 000 voxels of the real template, 16 deep
    assert hole.sum() >= PRECONDITIONED_FROM
    known = (~hole).astype(np.float32)
    preconditioned = biharmonic_fill_3d(template, known)
    monkeypatch.setattr(biharmonic3d, "PRECONDITIONED_FROM", hole.sum() + 1)
    plain = biharmonic_fill_3d(template, known)
    (used, fast), (unused, slow) = cg_calls
    assert used and not unused and fast < 100 < 10 * fast < slow  # a thousand plain iterations, tens preconditioned
    assert np.array_equal(preconditioned[~hole], template[~hole])
    assert np.abs(preconditioned[hole] - plain[hole]).max() < 1e-4  # the same equations to the same residual, 0–255 scale


def test_whole_missing_slices_are_solved_by_plain_cg_however_many_unknowns(template, cg_calls):
    known = np.ones(template.shape, np.float32)
    known[:, :, 110:112] = 0  # 91 802 unknowns, each one voxel from a known one: plain CG converges in tens of iterations
    biharmonic_fill_3d(template, known)
    assert (known < 0.5).sum() >= PRECONDITIONED_FROM and [used for used, _ in cg_calls] == [False]
