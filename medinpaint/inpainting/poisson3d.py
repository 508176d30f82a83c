"""Exact 3-D Poisson blending of a volume fill: continuous through-plane, known voxels bit-identical.

The blended volume ``x`` keeps every known voxel of the target ``t`` and, on the hole ``Ω``, has
the discrete 3-D Laplacian of the guidance ``s`` (the fused generator fill):

    for every p ∈ Ω:   Σ_{q ∈ N(p)} (x_p − x_q) = Σ_{q ∈ N(p)} (s_p − s_q),   x_q = t_q for q ∉ Ω,

with ``N(p)`` the 6-neighbours of ``p`` inside the volume (the 3-D twin of
:func:`medinpaint.inpainting.blend.poisson_blend`: known voxels are the Dirichlet boundary, a
hole touching the volume border gets the zero-flux condition ``∂x/∂n = ∂s/∂n`` there).

Only the bounding box of the hole plus one voxel on each side enters the solve (every neighbour
of a hole voxel lies in it), so the cost depends on the hole, not on the volume. The sparse
system (degree on the diagonal, −1 between neighbouring hole voxels; symmetric positive definite
when every connected part of the hole touches a known voxel) is solved in float64 by conjugate
gradients from the guidance itself down to a relative residual of 1e-10 (exact at float32
precision; 0.4 s for a 21,500-voxel hole where sparse LU takes 2–17 s for its fill-in), with
sparse LU as the fallback. Known voxels are copied from the target afterwards.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from medinpaint.errors import MedinpaintError

__all__ = ["gradient_blend_3d", "grow_box", "hole_box", "laplacian_system_3d", "poisson_blend_3d"]

SOLVE_TOLERANCE = 1e-10


def _neighbour_sum(array: np.ndarray) -> np.ndarray:
    """Sum of the in-volume 6-neighbours of every voxel of (X, Y, Z) (outside counts as 0)."""
    total = np.zeros_like(array)
    for axis in range(3):
        head = [slice(None)] * 3
        tail = [slice(None)] * 3
        head[axis], tail[axis] = slice(1, None), slice(None, -1)
        total[tuple(head)] += array[tuple(tail)]
        total[tuple(tail)] += array[tuple(head)]
    return total


def grow_box(box: tuple[slice, ...], margin: int, shape: tuple[int, ...]) -> tuple[slice, ...]:
    """``box`` (slices with start and stop, e.g. from :func:`scipy.ndimage.find_objects`) grown by
    ``margin`` voxels on every side, clipped to a volume of ``shape``.

    Example:
        >>> grow_box((slice(2, 3), slice(0, 4)), 2, (5, 5))
        (slice(0, 5, None), slice(0, 5, None))
    """
    return tuple(slice(max(part.start - margin, 0), min(part.stop + margin, n)) for part, n in zip(box, shape))


def hole_box(hole: np.ndarray, margin: int = 1) -> tuple[slice, slice, slice]:
    """The bounding box of ``hole`` (X, Y, Z bool) grown by ``margin`` voxels, clipped to the volume.

    Example:
        >>> hole = np.zeros((5, 6, 7), bool); hole[2, 3, 0:2] = True
        >>> hole_box(hole)
        (slice(1, 4, None), slice(2, 5, None), slice(0, 3, None))
    """
    tight = []
    for axis in range(3):
        present = np.flatnonzero(hole.any(axis=tuple(a for a in range(3) if a != axis)))
        tight.append(slice(int(present[0]), int(present[-1]) + 1))
    return grow_box(tuple(tight), margin, hole.shape)


def laplacian_system_3d(hole: np.ndarray) -> scipy.sparse.csc_matrix:
    """The matrix of the discrete 3-D Poisson equation on ``hole``.

    Args:
        hole: bool (X, Y, Z), True on the voxels to solve for.

    Returns:
        ``A`` (n, n) CSC with n = hole voxels in C order, ``A_pp`` = number of in-volume
        6-neighbours of p and ``A_pq = −1`` for neighbouring hole voxels.

    Example:
        >>> laplacian_system_3d(np.array([[[False, True, True]]])).toarray()
        array([[ 2., -1.],
               [-1.,  1.]])
    """
    index = np.full(hole.shape, -1, dtype=np.int64)
    count = int(hole.sum())
    index[hole] = np.arange(count)
    rows, cols = [np.arange(count)], [np.arange(count)]
    for axis in range(3):
        head = [slice(None)] * 3
        tail = [slice(None)] * 3
        head[axis], tail[axis] = slice(1, None), slice(None, -1)
        both = hole[tuple(tail)] & hole[tuple(head)]
        first, second = index[tuple(tail)][both], index[tuple(head)][both]
        rows += [first, second]  # each adjacent pair enters twice, (a, b) and (b, a)
        cols += [second, first]
    degree = _neighbour_sum(np.ones(hole.shape))[hole]
    values = np.concatenate([degree, -np.ones(sum(len(r) for r in rows[1:]))])
    return scipy.sparse.csc_matrix((values, (np.concatenate(rows), np.concatenate(cols))), shape=(count, count))


def gradient_blend_3d(differences: tuple[np.ndarray, np.ndarray, np.ndarray], target: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Exact 3-D Poisson fill of the hole of ``target`` from guidance DIFFERENCES between neighbours.

    The general form: for every hole voxel p, ``Σ_q (x_p − x_q) = Σ_q g_pq`` with
    ``g_pq = −differences[d][p]`` for ``q = p + e_d`` and ``differences[d][q]`` for ``q = p − e_d``.
    Differences of one volume, ``np.diff(s, axis=d)``, give :func:`poisson_blend_3d`; differences
    taken from several fills (each direction from the fills that are coherent along it) fuse them.

    Args:
        differences: for axis d = 0, 1, 2, ``s(p + e_d) − s(p)``: shapes (X−1, Y, Z), (X, Y−1, Z), (X, Y, Z−1).
        target: (X, Y, Z); known voxels are kept, hole voxels are not read.
        known: (X, Y, Z), known where > 0.5.

    Returns:
        (X, Y, Z), dtype of ``target``; known voxels bit-identical.

    Raises:
        MedinpaintError: nothing is known.

    Example:
        >>> target = np.zeros((3, 3, 3), np.float32); known = np.ones((3, 3, 3)); known[1, 1, 1] = 0
        >>> ramp = np.zeros((2, 3, 3)), np.zeros((3, 2, 3)), np.ones((3, 3, 2))  # guidance s = z
        >>> float(gradient_blend_3d(ramp, target, known)[1, 1, 1])  # the mean of z - 1 and z + 1 about 0
        0.0
    """
    hole = np.asarray(known) <= 0.5
    result = np.array(target, copy=True)
    if not hole.any():
        return result
    if hole.all():
        raise MedinpaintError("the mask covers the whole volume: leave some voxels known to blend into")
    guided = np.zeros(hole.shape)
    for axis, difference in enumerate(differences):
        head = [slice(None)] * 3
        tail = [slice(None)] * 3
        head[axis], tail[axis] = slice(1, None), slice(None, -1)
        guided[tuple(head)] += difference
        guided[tuple(tail)] -= difference
    rhs = (guided + _neighbour_sum(np.where(hole, 0.0, np.asarray(target, np.float64))))[hole]
    system = laplacian_system_3d(hole)
    solution, info = scipy.sparse.linalg.cg(system, rhs, rtol=SOLVE_TOLERANCE, atol=0.0)
    if info != 0:  # CG converges on this SPD system; the direct solve is the safety net
        solution = scipy.sparse.linalg.splu(system, permc_spec="COLAMD").solve(rhs)
    result[hole] = solution.astype(result.dtype)
    return np.where(hole, result, target)


def poisson_blend_3d(guidance: np.ndarray, target: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Exact 3-D Poisson blend of ``guidance`` into the hole of ``target``.

    Solves on the hole's bounding box + 1 voxel only (:func:`hole_box`).

    Args:
        guidance: (X, Y, Z) the fill whose Laplacian the hole takes (e.g. the fused G(ẑ) fills).
        target: (X, Y, Z) volume whose known voxels are kept; its hole voxels are not read.
        known: (X, Y, Z), known where > 0.5.

    Returns:
        (X, Y, Z) with the dtype of ``target``; known voxels bit-identical to ``target``. With
        nothing missing, a copy of ``target``.

    Raises:
        MedinpaintError: the arrays are not 3-D of one shape, or nothing is known.

    Example:
        >>> target = np.zeros((4, 4, 4), np.float32); known = np.ones((4, 4, 4))
        >>> known[1:3, 1:3, 1:3] = 0
        >>> float(np.abs(poisson_blend_3d(np.full((4, 4, 4), 5.0), target, known)).max())  # flat guidance
        0.0
    """
    if guidance.ndim != 3 or guidance.shape != target.shape or known.shape != target.shape:
        raise MedinpaintError(
            f"guidance, target and known must be 3-D volumes of one shape, got {guidance.shape}, "
            f"{target.shape} and {known.shape}: pass (X, Y, Z) arrays on one voxel grid"
        )
    hole = np.asarray(known) <= 0.5
    if not hole.any():
        return np.array(target, copy=True)
    box = hole_box(hole)
    source = np.asarray(guidance, np.float64)[box]
    result = np.array(target, copy=True)
    result[box] = gradient_blend_3d(tuple(np.diff(source, axis=axis) for axis in range(3)), target[box], np.asarray(known)[box])
    return result
