"""Blend the generated image into the known pixels: exact Poisson blending (Pérez et al., 2003).

The blended image ``x`` keeps every known pixel of the target ``t`` and, on the missing region
``Ω``, has the discrete Laplacian of the source ``s`` (the generator's output):

    for every p ∈ Ω:   Σ_{q ∈ N(p)} (x_p − x_q) = Σ_{q ∈ N(p)} (s_p − s_q),   x_q = t_q for q ∉ Ω,

with ``N(p)`` the 4-neighbours of ``p`` *inside the image*. Boundary choice: where the hole
touches the image border the missing outside neighbours are simply left out of both sides, i.e.
a zero-flux (Neumann) condition ``∂x/∂n = ∂s/∂n`` there; the known pixels are the Dirichlet
boundary. The system ``A x_Ω = b`` (A = degree on the diagonal, −1 between neighbouring hole
pixels) is symmetric positive definite as soon as every connected part of the hole touches a
known pixel, which holds unless nothing is known. It is solved exactly, in float64, once per
distinct mask for all channels and all images sharing that mask:

* a hole that is one axis-aligned rectangle (boxes, half-image masks) has ``A = T_y ⊕ T_x``
  (Kronecker sum of two tridiagonal 1-D operators), solved by the fast diagonalisation method
  (Lynch, Rice & Thomas, 1964): eigen-decompose ``T_y`` and ``T_x``, then
  ``x = V_y [(V_yᵀ B V_x) / (λ_i + μ_j)] V_xᵀ``, a few small matrix products;
* any other hole: a sparse LU factorisation (SuperLU).

Known pixels are copied from the target afterwards, so they are bit-identical whatever the
solver's rounding.

``method="sobel-adam"`` is the reference implementation's blend, kept only to reproduce it: 500 Adam
steps on the hole pixels minimising the squared difference of Sobel gradients. It does not reach
the solution of the equation above and leaves a dotted texture; do not use it otherwise.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
import torch
import torch.nn.functional as F

from medinpaint.errors import MedinpaintError

__all__ = ["BLEND_METHODS", "biharmonic_blend", "blend", "hole_solver", "laplacian_system", "poisson_blend", "sobel_adam_blend"]

BLEND_METHODS = ("poisson", "biharmonic", "sobel-adam")

def _neighbour_sum(array: np.ndarray) -> np.ndarray:
    """Sum of the in-image 4-neighbours of every pixel of (..., H, W) (outside counts as 0)."""
    total = np.zeros_like(array)
    total[..., 1:, :] += array[..., :-1, :]
    total[..., :-1, :] += array[..., 1:, :]
    total[..., :, 1:] += array[..., :, :-1]
    total[..., :, :-1] += array[..., :, 1:]
    return total


def laplacian_system(hole: np.ndarray) -> scipy.sparse.csc_matrix:
    """The matrix of the discrete Poisson equation on ``hole``.

    Args:
        hole: bool (H, W), True on the pixels to solve for.

    Returns:
        ``A`` (n, n) CSC with n = hole pixels in row-major order, ``A_pp`` = number of in-image
        4-neighbours of p and ``A_pq = −1`` for neighbouring hole pixels.

    Example:
        >>> laplacian_system(np.array([[False, True, True]])).toarray()
        array([[ 2., -1.],
               [-1.,  1.]])
    """
    index = np.full(hole.shape, -1, dtype=np.int64)
    count = int(hole.sum())
    index[hole] = np.arange(count)
    right = hole[:, :-1] & hole[:, 1:]
    down = hole[:-1, :] & hole[1:, :]
    pairs = [(index[:, :-1][right], index[:, 1:][right]), (index[:-1, :][down], index[1:, :][down])]
    # Each adjacent pair of hole pixels enters twice, (a, b) and (b, a).
    rows = np.concatenate([np.arange(count)] + [p for a, b in pairs for p in (a, b)])
    cols = np.concatenate([np.arange(count)] + [p for a, b in pairs for p in (b, a)])
    values = np.concatenate([_in_image_degree(hole.shape)[hole]] + [-np.ones(2 * len(a)) for a, _ in pairs])
    return scipy.sparse.csc_matrix((values, (rows, cols)), shape=(count, count))


@functools.lru_cache(maxsize=8)
def _in_image_degree(shape: tuple[int, int]) -> np.ndarray:
    """Number of in-image 4-neighbours of every pixel, float64 (H, W); shared, do not modify."""
    return _neighbour_sum(np.ones(shape))


def _rectangle(hole: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(top, bottom, left, right)`` (exclusive ends) when ``hole`` is one filled rectangle."""
    rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if (bottom - top) * (right - left) != np.count_nonzero(hole):
        return None
    return int(top), int(bottom), int(left), int(right)


@functools.lru_cache(maxsize=256)
def _axis_eigen(start: int, stop: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of the 1-D operator along one axis of a rectangle spanning [start, stop).

    ``T = tridiag(−1, d, −1)`` with ``d = 2``, minus 1 at an end lying on the image border
    (one in-image neighbour fewer there: the Neumann side).
    """
    diagonal = np.full(stop - start, 2.0)
    diagonal[0] -= start == 0
    diagonal[-1] -= stop == length
    return scipy.linalg.eigh_tridiagonal(diagonal, -np.ones(stop - start - 1))


def hole_solver(hole: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Factorise the Poisson system of ``hole`` once; return ``solve(rhs (k, n)) -> (k, n)``.

    ``n`` is the number of hole pixels in row-major order; the k right-hand sides are e.g. the
    channels of several images sharing the mask. A rectangular hole uses the fast
    diagonalisation method, any other shape a sparse LU factorisation.

    Example:
        >>> hole = np.zeros((5, 5), bool); hole[1:4, 1:3] = True
        >>> rhs = np.ones((1, 6))
        >>> bool(np.allclose(laplacian_system(hole) @ hole_solver(hole)(rhs)[0], 1.0))
        True
    """
    box = _rectangle(hole)
    if box is None:
        lu_solve = scipy.sparse.linalg.splu(laplacian_system(hole), permc_spec="MMD_AT_PLUS_A").solve
        return lambda rhs: lu_solve(np.ascontiguousarray(rhs.T)).T
    top, bottom, left, right = box
    rows_values, rows_vectors = _axis_eigen(top, bottom, hole.shape[0])
    cols_values, cols_vectors = _axis_eigen(left, right, hole.shape[1])
    denominator = rows_values[:, None] + cols_values[None, :]  # > 0 unless the whole image is a hole

    def solve(rhs: np.ndarray) -> np.ndarray:
        rhs = rhs.reshape(-1, bottom - top, right - left)
        spectral = rows_vectors.T @ rhs @ cols_vectors / denominator
        return (rows_vectors @ spectral @ cols_vectors.T).reshape(len(rhs), -1)

    return solve


def _check_blend_inputs(source: torch.Tensor, target: torch.Tensor, known: torch.Tensor) -> None:
    if source.ndim != 4 or source.shape != target.shape:
        raise MedinpaintError(
            f"source and target must both be (N, C, H, W) of one shape, got {tuple(source.shape)} "
            f"and {tuple(target.shape)}: resize the generated image to the target's size"
        )
    expected = (source.shape[0], 1, *source.shape[2:])
    if tuple(known.shape) != expected:
        raise MedinpaintError(
            f"known mask must have shape {expected} for images {tuple(source.shape)}, "
            f"got {tuple(known.shape)}: give one single-channel mask per image"
        )


def poisson_blend(source: torch.Tensor, target: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Exact Poisson blend of ``source`` into the missing region of ``target``.

    Args:
        source: guidance image (N, C, H, W), e.g. G(ẑ) resized to the target's size.
        target: image whose known pixels are kept (N, C, H, W); its missing pixels are not read.
        known: mask (N, 1, H, W), known where > 0.5.

    Returns:
        Blended image (N, C, H, W), dtype and device of ``target``; known pixels bit-identical to
        ``target``. An image with nothing missing is returned as a copy of its target.

    Raises:
        MedinpaintError: shapes disagree, or an image has no known pixel (nothing to anchor the
            solution).

    Example:
        >>> target = torch.zeros(1, 1, 4, 4); known = torch.ones(1, 1, 4, 4)
        >>> known[..., 1:3, 1:3] = 0
        >>> source = torch.full((1, 1, 4, 4), 5.0)  # flat source: the fill is flat too
        >>> poisson_blend(source, target, known).abs().max().item()
        0.0
    """
    _check_blend_inputs(source, target, known)
    holes = (known <= 0.5)[:, 0].cpu().numpy()
    if holes.reshape(len(holes), -1).all(axis=1).any():
        raise MedinpaintError("mask covers the whole image: leave some pixels known to blend into")
    source_np = source.detach().cpu().double().numpy()
    target_np = target.detach().cpu().double().numpy()
    solved = target_np.copy()
    groups: dict[bytes, list[int]] = {}
    for image_index, hole in enumerate(holes):
        if hole.any():
            groups.setdefault(np.packbits(hole).tobytes(), []).append(image_index)
    degree = _in_image_degree(holes.shape[1:])
    for members in groups.values():
        hole = holes[members[0]]
        # Σ_q (s_p − s_q) + Σ_{q known} t_q  =  deg_p·s_p − Σ_q (s_q − [q known]·t_q)
        source_members = source_np[members]
        rhs = degree * source_members - _neighbour_sum(source_members - np.where(hole, 0.0, target_np[members]))
        rhs = rhs[..., hole]  # (images, C, n)
        solution = hole_solver(hole)(rhs.reshape(-1, rhs.shape[-1]))
        solved_members = solved[members]
        solved_members[..., hole] = solution.reshape(rhs.shape)
        solved[members] = solved_members
    result = torch.from_numpy(solved).to(device=target.device, dtype=target.dtype)
    return torch.where(known > 0.5, target, result)


def biharmonic_blend(source: torch.Tensor, target: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Blend ``source`` into the hole so that values AND gradients meet the known pixels.

    The fill is the source plus a biharmonic correction of its mismatch with the known pixels,
    ``x_Ω = s_Ω + B(t − s)_Ω``, where ``B`` is scikit-image's biharmonic fill of the residual
    ``t − s`` from the pixels around the hole (``inpaint_biharmonic``). Where the Poisson blend
    adds a harmonic correction (continuous values, kinks at the hole's edge), this one is smooth
    across the edge; on small holes, where the generator's detail matters least, it leans on the
    smooth interpolation that classical lesion filling uses.

    Args:
        source: guidance image (N, C, H, W).
        target: image whose known pixels are kept (N, C, H, W); its missing pixels are not read.
        known: mask (N, 1, H, W), known where > 0.5.

    Returns:
        Blended image (N, C, H, W), known pixels bit-identical to ``target``.

    Example:
        >>> target = torch.arange(36.0).view(1, 1, 6, 6); known = torch.ones(1, 1, 6, 6)
        >>> known[..., 2:4, 2:4] = 0
        >>> out = biharmonic_blend(torch.zeros(1, 1, 6, 6), target, known)  # a ramp is refilled exactly
        >>> bool(torch.allclose(out, target, atol=1e-4))
        True
    """
    from skimage.restoration import inpaint_biharmonic

    _check_blend_inputs(source, target, known)
    holes = (known <= 0.5)[:, 0].cpu().numpy()
    if holes.reshape(len(holes), -1).all(axis=1).any():
        raise MedinpaintError("mask covers the whole image: leave some pixels known to blend into")
    source_np = source.detach().cpu().double().numpy()
    residual = target.detach().cpu().double().numpy() - source_np
    solved = source_np.copy()
    for index, hole in enumerate(holes):
        if hole.any():
            correction = inpaint_biharmonic(np.where(hole, 0.0, residual[index]), hole, channel_axis=0)
            solved[index] += correction
    result = torch.from_numpy(solved).to(device=target.device, dtype=target.dtype)
    return torch.where(known > 0.5, target, result)


def _sobel(image: torch.Tensor) -> torch.Tensor:
    """Sobel x and y responses of every channel of (N, C, H, W), zero padding: (N, 2C, H, W)."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=image.dtype)
    kernels = torch.stack([kx, kx.T]).unsqueeze(1).to(image.device)  # (2, 1, 3, 3)
    channels = image.shape[1]
    return F.conv2d(image, kernels.repeat(channels, 1, 1, 1), padding=1, groups=channels)


def sobel_adam_blend(
    source: torch.Tensor, target: torch.Tensor, known: torch.Tensor, steps: int = 500, lr: float = 0.01
) -> torch.Tensor:
    """The reference implementation's approximate blend: Adam on the hole pixels to match Sobel gradients.

    Starts from the copy-paste composite (target on known pixels, source in the hole) and takes
    ``steps`` Adam steps on the hole pixels minimising ``Σ_{p ∈ Ω} ‖sobel(x)_p − sobel(s)_p‖²``.
    Kept for reproducing the reference implementation only: it stops short of the Poisson solution and leaves a
    dotted texture (see ``docs/method.md``).

    Args:
        source: guidance image (N, C, H, W).
        target: image whose known pixels are kept (N, C, H, W).
        known: mask (N, 1, H, W), known where > 0.5.
        steps: Adam steps (the reference's 500).
        lr: Adam learning rate.

    Returns:
        Blended image (N, C, H, W) with known pixels bit-identical to ``target``.

    Example:
        >>> target, known = torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8)
        >>> known[..., 2:6, 2:6] = 0
        >>> sobel_adam_blend(torch.ones(1, 1, 8, 8), target, known, steps=3).shape
        torch.Size([1, 1, 8, 8])
    """
    _check_blend_inputs(source, target, known)
    is_known = known > 0.5
    hole = (~is_known).to(target.dtype)
    source_gradients = _sobel(source.detach()).detach()
    fill = source.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([fill], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        composite = torch.where(is_known, target, fill)
        loss = ((_sobel(composite) - source_gradients) ** 2 * hole).sum()
        loss.backward()
        optimizer.step()
    return torch.where(is_known, target, fill.detach())


def blend(source: torch.Tensor, target: torch.Tensor, known: torch.Tensor, method: str = "poisson") -> torch.Tensor:
    """Blend with the named method: ``"poisson"`` (exact, default), ``"biharmonic"`` or ``"sobel-adam"`` (the reference's).

    Example:
        >>> blend(torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)).sum().item()
        0.0
    """
    if method == "poisson":
        return poisson_blend(source, target, known)
    if method == "biharmonic":
        return biharmonic_blend(source, target, known)
    if method == "sobel-adam":
        return sobel_adam_blend(source, target, known)
    raise MedinpaintError(f"unknown blend method {method!r}: use one of {', '.join(BLEND_METHODS)}")
