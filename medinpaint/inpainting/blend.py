"""Blend the generated image into the known pixels: exact Poisson blending (Pérez et al., 2003).

The blended image ``x`` keeps every known pixel of the target ``t`` and, on the missing region
``Ω``, has the discrete Laplacian of the source ``s`` (the generator's output):

    for every p ∈ Ω:   Σ_{q ∈ N(p)} (x_p − x_q) = Σ_{q ∈ N(p)} (s_p − s_q),   x_q = t_q for q ∉ Ω,

with ``N(p)`` the 4-neighbours of ``p`` *inside the image*. Boundary choice: where the hole
touches the image border the missing outside neighbours are simply left out of both sides, i.e.
a zero-flux (Neumann) condition ``∂x/∂n = ∂s/∂n`` there; the known pixels are the Dirichlet
boundary. The system ``A x_Ω = b`` (A = degree on the diagonal, −1 between neighbouring hole
pixels) is symmetric positive definite as soon as every connected part of the hole touches a
known pixel, which holds unless nothing is known. It is solved by a sparse LU factorisation
(SuperLU), computed once per distinct mask and reused for all channels and all images sharing
that mask, in float64. Known pixels are copied from the target afterwards, so they are
bit-identical whatever the solver's rounding.

``method="sobel-adam"`` is the seed implementation's blend, kept only to reproduce it: 500 Adam
steps on the hole pixels minimising the squared difference of Sobel gradients. It does not reach
the solution of the equation above and leaves a dotted texture; do not use it otherwise.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch
import torch.nn.functional as F

from medinpaint.errors import MedinpaintError

__all__ = ["BLEND_METHODS", "poisson_blend", "sobel_adam_blend", "blend", "laplacian_system"]

BLEND_METHODS = ("poisson", "sobel-adam")

# (dy, dx) of the 4-neighbourhood.
_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _neighbour_sum(array: np.ndarray) -> np.ndarray:
    """Sum of the in-image 4-neighbours of every pixel of (..., H, W) (outside counts as 0)."""
    padded = np.pad(array, [(0, 0)] * (array.ndim - 2) + [(1, 1), (1, 1)])
    height, width = array.shape[-2:]
    return sum(padded[..., 1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width] for dy, dx in _NEIGHBOURS)


def laplacian_system(hole: np.ndarray) -> tuple[scipy.sparse.csc_matrix, np.ndarray]:
    """The matrix of the discrete Poisson equation on ``hole`` and each pixel's in-image degree.

    Args:
        hole: bool (H, W), True on the pixels to solve for.

    Returns:
        ``(A, degree)``: ``A`` (n, n) CSC with n = hole pixels in row-major order, ``A_pp`` = number
        of in-image neighbours of p and ``A_pq = −1`` for neighbouring hole pixels; ``degree``
        (H, W) float64, the number of in-image neighbours of every pixel.

    Example:
        >>> A, _ = laplacian_system(np.array([[False, True, True]]))
        >>> A.toarray()
        array([[ 2., -1.],
               [-1.,  1.]])
    """
    height, width = hole.shape
    index = np.full((height, width), -1, dtype=np.int64)
    count = int(hole.sum())
    index[hole] = np.arange(count)
    degree = _neighbour_sum(np.ones((height, width)))
    # Pairs of horizontally and vertically adjacent hole pixels, each added in both directions.
    pairs = [
        (index[:, :-1][hole[:, :-1] & hole[:, 1:]], index[:, 1:][hole[:, :-1] & hole[:, 1:]]),
        (index[:-1, :][hole[:-1, :] & hole[1:, :]], index[1:, :][hole[:-1, :] & hole[1:, :]]),
    ]
    rows = np.concatenate([np.arange(count)] + [p for a, b in pairs for p in (a, b)])
    cols = np.concatenate([np.arange(count)] + [p for a, b in pairs for p in (b, a)])
    values = np.concatenate([degree[hole]] + [-np.ones(2 * len(a)) for a, _ in pairs])
    matrix = scipy.sparse.csc_matrix((values, (rows, cols)), shape=(count, count))
    return matrix, degree


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
    for members in groups.values():
        hole = holes[members[0]]
        matrix, degree = laplacian_system(hole)
        solve = scipy.sparse.linalg.splu(matrix, permc_spec="MMD_AT_PLUS_A").solve
        guidance = degree * source_np[members] - _neighbour_sum(source_np[members])
        boundary = _neighbour_sum(np.where(hole, 0.0, target_np[members]))
        rhs = (guidance + boundary)[..., hole]  # (images, C, n)
        solution = solve(np.ascontiguousarray(rhs.reshape(-1, rhs.shape[-1]).T))
        solved_members = solved[members]
        solved_members[..., hole] = solution.T.reshape(rhs.shape)
        solved[members] = solved_members
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
    """The seed's approximate blend: Adam on the hole pixels to match Sobel gradients.

    Starts from the copy-paste composite (target on known pixels, source in the hole) and takes
    ``steps`` Adam steps on the hole pixels minimising ``Σ_{p ∈ Ω} ‖sobel(x)_p − sobel(s)_p‖²``.
    Kept for reproducing the seed only: it stops short of the Poisson solution and leaves a
    dotted texture (see ``docs/method.md``).

    Args:
        source: guidance image (N, C, H, W).
        target: image whose known pixels are kept (N, C, H, W).
        known: mask (N, 1, H, W), known where > 0.5.
        steps: Adam steps (the seed's 500).
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
    """Blend with the named method: ``"poisson"`` (exact, default) or ``"sobel-adam"`` (the seed's).

    Example:
        >>> blend(torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)).sum().item()
        0.0
    """
    if method == "poisson":
        return poisson_blend(source, target, known)
    if method == "sobel-adam":
        return sobel_adam_blend(source, target, known)
    raise MedinpaintError(f"unknown blend method {method!r}: use one of {', '.join(BLEND_METHODS)}")
