"""The 3-D biharmonic fill of a hole: scikit-image's equations, solved by conjugate gradients.

scikit-image's ``inpaint_biharmonic`` asks, at every hole voxel p, for ``(Δ²u)(p) = 0`` with the
25-point stencil of the discrete bilaplacian (``ndimage.laplace`` applied twice), the known voxels
as boundary values, and solves that sparse system by LU (SuperLU, minimum-degree ordering). In 3-D
the LU's fill-in makes it grow about as n^2.7 in the hole's voxels n (1.0 s for 7 153, 19.4 s for
24 405 unknowns; docs/performance.md), and it is the 3-D network fill's base.

Away from the volume's border the matrix is the principal submatrix of ``L² = LᵀL`` (L the
7-point Laplacian) on the hole: symmetric positive definite. :func:`biharmonic_fill_3d` builds
the same equations and solves them by conjugate gradients to a relative residual of 1e-10 (within
about 1e-6 of the LU's solution on a 0–255 scale), in O(n) memory: 0.26 / 0.72 / 6.3 s for
7 153 / 24 405 / 113 081 unknowns (``benchmarks/bench_biharmonic_3d.py``). As scikit-image does,
the result is clipped to the range of the known voxels it reads. A hole within 2 voxels of the
volume's border, where scikit-image truncates the stencil, is left to scikit-image itself.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from scipy import ndimage
from skimage.restoration import inpaint_biharmonic

from medinpaint.inpainting.poisson3d import SOLVE_TOLERANCE, hole_box

__all__ = ["BIHARMONIC_MARGIN", "bilaplacian_stencil", "biharmonic_fill_3d"]

BIHARMONIC_MARGIN = 3  # known voxels around the hole that the fill reads (the stencil reaches 2)
STENCIL_RADIUS = 2


def bilaplacian_stencil() -> tuple[np.ndarray, np.ndarray]:
    """The 25-point 3-D bilaplacian, as scikit-image builds it: offsets (25, 3) and coefficients (25,).

    Example:
        >>> offsets, coefficients = bilaplacian_stencil()
        >>> len(offsets), float(coefficients[(offsets == 0).all(axis=1)][0]), float(coefficients.sum())
        (25, 42.0, 0.0)
    """
    delta = np.zeros((2 * STENCIL_RADIUS + 1,) * 3)
    delta[(STENCIL_RADIUS,) * 3] = 1.0
    kernel = ndimage.laplace(ndimage.laplace(delta))
    where = np.argwhere(kernel != 0)
    return where - STENCIL_RADIUS, kernel[tuple(where.T)]


def _system(values: np.ndarray, hole: np.ndarray) -> tuple[scipy.sparse.csr_array, np.ndarray]:
    """``(Δ²u)(p) = 0`` for the hole voxels p (C order) of a box whose hole stays 2 voxels off its edge."""
    offsets, coefficients = bilaplacian_stencil()
    voxels = np.argwhere(hole)
    count = len(voxels)
    index = np.full(hole.shape, -1, dtype=np.int64)
    index[hole] = np.arange(count)
    rows, cols, data = [], [], []
    rhs = np.zeros(count)
    for offset, coefficient in zip(offsets, coefficients):
        neighbour = tuple((voxels + offset).T)
        column = index[neighbour]
        unknown = column >= 0
        rows.append(np.flatnonzero(unknown))
        cols.append(column[unknown])
        data.append(np.full(int(unknown.sum()), coefficient))
        rhs[~unknown] -= coefficient * values[neighbour][~unknown]
    system = scipy.sparse.csr_array((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(count, count))
    return system, rhs


def biharmonic_fill_3d(volume: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The 3-D biharmonic fill of the hole of one (X, Y, Z) volume (float64); known voxels are the input's.

    Solved on the hole's bounding box + :data:`BIHARMONIC_MARGIN` voxels, by conjugate gradients
    (sparse LU as the fallback); scikit-image's ``inpaint_biharmonic`` when the hole comes within
    2 voxels of the volume's border.

    Example:
        >>> volume = np.fromfunction(lambda x, y, z: x + 2 * y - z, (8, 8, 8))
        >>> known = np.ones(volume.shape); known[3:5, 3:5, 3:5] = 0
        >>> bool(np.allclose(biharmonic_fill_3d(volume, known), volume, atol=1e-3))
        True
    """
    hole = np.asarray(known) < 0.5
    filled = np.array(volume, dtype=np.float64)
    if not hole.any():
        return filled
    box = hole_box(hole, margin=BIHARMONIC_MARGIN)
    values, box_hole = np.where(hole[box], 0.0, filled[box]), hole[box]
    if box_hole[(slice(STENCIL_RADIUS, -STENCIL_RADIUS),) * 3].sum() != box_hole.sum():  # truncated stencils
        filled[box] = inpaint_biharmonic(values, box_hole)
        return np.where(hole, filled, volume)
    system, rhs = _system(values, box_hole)
    solution, info = scipy.sparse.linalg.cg(system, rhs, rtol=SOLVE_TOLERANCE, atol=0.0)
    if info != 0:  # CG converges on this SPD system; the direct solve is the safety net
        solution = scipy.sparse.linalg.splu(system.tocsc(), permc_spec="MMD_AT_PLUS_A").solve(rhs)
    region = filled[box]
    known_values = region[~box_hole]
    region[box_hole] = np.clip(solution, known_values.min(), known_values.max())
    return np.where(hole, filled, volume)
