"""The 3-D biharmonic fill of a hole: scikit-image's equations, solved by conjugate gradients.

scikit-image's ``inpaint_biharmonic`` asks, at every hole voxel p, for ``(Δ²u)(p) = 0`` with the
25-point stencil of the discrete bilaplacian (``ndimage.laplace`` applied twice), the known voxels
as boundary values, and solves that sparse system by LU (SuperLU, minimum-degree ordering). In 3-D
the LU's fill-in makes it grow about as n^2.7 in the hole's voxels n (1.0 s for 7 153, 19.4 s for
24 405 unknowns; docs/performance.md), and it is the 3-D network fill's base.

Those equations are the hole's rows of ``L²``, L the 7-point Laplacian of the volume reflected at
its faces (ndimage's ``"reflect"``, which is what scikit-image's truncated stencils near the
border amount to): L is symmetric, so the system, ``L²`` restricted to the hole, is symmetric
positive definite whenever one voxel is known. :func:`biharmonic_fill_3d` builds it on the hole's
box and solves it by conjugate gradients to a relative residual of 1e-10 (within about 1e-6 of
the LU's solution on a 0–255 scale), in O(n) memory: 0.26 / 0.72 / 6.3 s for 7 153 / 24 405 /
113 081 unknowns (``benchmarks/bench_biharmonic_3d.py``); holes that reach the volume's border,
such as whole missing slices, the same way. As scikit-image does, the result is clipped to the
range of the known voxels it reads.

Plain CG's iterations grow about as the square of the hole's depth (its voxels' largest distance
from a known one): thousands on the 40 000–75 000 unknowns, 29–36 voxels deep, of the mirror
guide's boxes at 1 mm (2–8 s each), tens on whole missing slices (1–2 deep). A hole of
:data:`PRECONDITIONED_FROM` unknowns or more and at least :data:`PRECONDITIONED_DEPTH` voxels deep
is solved by preconditioned CG: ``L²`` restricted to the hole is ``L_hh²`` (L's hole block,
squared) plus a positive semidefinite term from the known voxels beside the hole, so ``L_hh⁻²``,
each ``L_hh⁻¹`` one V-cycle of classical algebraic multigrid (pyamg's Ruge–Stüben solver on −L_hh,
an M-matrix), brings CG to 25–40 iterations and those solves to a fifth of their time, to the same
residual (docs/performance.md).
"""

from __future__ import annotations

import numpy as np
import pyamg
import scipy.sparse
import scipy.sparse.linalg
from scipy import ndimage

from medinpaint.errors import MedinpaintError
from medinpaint.inpainting.poisson3d import SOLVE_TOLERANCE, hole_box

__all__ = ["BIHARMONIC_MARGIN", "PRECONDITIONED_DEPTH", "PRECONDITIONED_FROM", "biharmonic_fill_3d", "reflected_laplacian"]

BIHARMONIC_MARGIN = 3  # known voxels around the hole that the fill reads (the stencil reaches 2)
PRECONDITIONED_FROM = 20_000  # unknowns from which CG is preconditioned by multigrid (below it plain CG is as fast: 0.2-0.3 s at 15 000)
PRECONDITIONED_DEPTH = 8  # ... and voxels of depth (taxicab distance to a known voxel): shallower holes take few plain iterations


def _second_difference(n: int) -> scipy.sparse.csr_array:
    """The 1-D second difference on n points, each end reflected (its ghost is itself)."""
    diagonal = np.full(n, -2.0)
    diagonal[[0, -1]] = -1.0 if n > 1 else 0.0
    return scipy.sparse.diags_array([np.ones(n - 1), diagonal, np.ones(n - 1)], offsets=[-1, 0, 1], format="csr")


def reflected_laplacian(shape: tuple[int, int, int]) -> scipy.sparse.csr_array:
    """The 7-point Laplacian of an (X, Y, Z) grid (C order), reflected at its faces: symmetric.

    Its square is scikit-image's bilaplacian: 42 at the centre, 25 points inside the grid.

    Example:
        >>> laplacian = reflected_laplacian((5, 5, 5))
        >>> bilaplacian = (laplacian @ laplacian).toarray()[62]  # the centre voxel's row
        >>> float(bilaplacian[62]), int((bilaplacian != 0).sum()), bool((laplacian != laplacian.T).nnz == 0)
        (42.0, 25, True)
    """
    eyes = [scipy.sparse.identity(n, format="csr") for n in shape]
    terms = []
    for axis, n in enumerate(shape):
        factors = [_second_difference(n) if a == axis else eyes[a] for a in range(3)]
        terms.append(scipy.sparse.kron(scipy.sparse.kron(factors[0], factors[1]), factors[2]))
    return scipy.sparse.csr_array(terms[0] + terms[1] + terms[2])


def _system(values: np.ndarray, hole: np.ndarray) -> tuple[scipy.sparse.csr_array, np.ndarray]:
    """``(Δ²u)(p) = 0`` for the hole voxels p (C order) of a box; its faces at least 3 voxels from
    the hole or on the volume's border."""
    laplacian = reflected_laplacian(hole.shape)
    flat = hole.ravel()
    rows = scipy.sparse.csc_array(laplacian[np.flatnonzero(flat)] @ laplacian)  # the hole's rows of L² (L symmetric)
    return scipy.sparse.csr_array(rows[:, flat]), -(rows[:, ~flat] @ values.ravel()[~flat])


def _squared_laplacian_preconditioner(hole: np.ndarray) -> scipy.sparse.linalg.LinearOperator:
    """About ``L_hh⁻²`` for the hole voxels of a box: one Ruge–Stüben V-cycle of −L_hh, applied twice (module docstring)."""
    flat = np.flatnonzero(hole.ravel())
    hole_laplacian = scipy.sparse.csr_array(reflected_laplacian(hole.shape)[flat][:, flat])
    cycle = pyamg.ruge_stuben_solver(-hole_laplacian, max_coarse=500).aspreconditioner(cycle="V")
    return scipy.sparse.linalg.LinearOperator(hole_laplacian.shape, matvec=lambda r: cycle @ (cycle @ r), dtype=np.float64)


def biharmonic_fill_3d(volume: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The 3-D biharmonic fill of the hole of one (X, Y, Z) volume (float64); known voxels are the input's.

    Solved on the hole's bounding box + :data:`BIHARMONIC_MARGIN` voxels (clipped to the volume),
    by conjugate gradients, multigrid-preconditioned for a large, deep hole (module docstring; sparse
    LU as the fallback); a box one voxel thick (a slice) by sparse LU, as scikit-image does in 2-D.

    Raises:
        MedinpaintError: no voxel is known.

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
    if hole.all():
        raise MedinpaintError("the mask covers the whole volume: leave some voxels known")
    box = hole_box(hole, margin=BIHARMONIC_MARGIN)
    values, box_hole = np.where(hole[box], 0.0, filled[box]), hole[box]
    system, rhs = _system(values, box_hole)
    flat = min(box_hole.shape) == 1  # a slice: 2-D, where the LU is fast and CG slow (the bilaplacian's condition grows as n²)
    deep = not flat and len(rhs) >= PRECONDITIONED_FROM and ndimage.distance_transform_cdt(box_hole, metric="taxicab").max() >= PRECONDITIONED_DEPTH
    preconditioner = _squared_laplacian_preconditioner(box_hole) if deep else None
    solution, info = (None, 1) if flat else scipy.sparse.linalg.cg(system, rhs, rtol=SOLVE_TOLERANCE, atol=0.0, M=preconditioner)
    if info != 0:  # CG converges on this SPD system; the direct solve is the safety net
        solution = scipy.sparse.linalg.splu(system.tocsc(), permc_spec="MMD_AT_PLUS_A").solve(rhs)
    region = filled[box]
    known_values = region[~box_hole]
    region[box_hole] = np.clip(solution, known_values.min(), known_values.max())  # every hole voxel lies in the box
    return filled
