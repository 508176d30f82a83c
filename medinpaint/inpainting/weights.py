"""Importance weights of the contextual loss (Yeh et al., 2017, eq. 2).

A known pixel matters more the more missing pixels surround it: its weight is the fraction of
missing pixels in the ``window × window`` neighbourhood centred on it; missing pixels weigh 0.

Border choice: a window that sticks out of the image is *clipped*: the fraction is taken over the
in-image pixels of the window only (outside pixels are neither known nor missing). A known pixel
in a corner next to a hole therefore gets the same weight as one inside the image with the same
fraction of missing neighbours, and the out-of-image area never counts as "missing".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from medinpaint.errors import MedinpaintError

__all__ = ["importance_weights"]


def importance_weights(known: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Weight of each pixel in the contextual loss.

    ``W_i = |{j ∈ N(i) ∩ image : j missing}| / |N(i) ∩ image|`` for a known pixel ``i`` and
    ``W_i = 0`` for a missing one, where ``N(i)`` is the ``window × window`` box centred on ``i``.

    Args:
        known: mask (N, 1, H, W), 1 = known, 0 = missing (any float dtype; values are 0 or 1).
        window: odd side of the neighbourhood (the paper's 7).

    Returns:
        Weights (N, 1, H, W) in [0, 1], same dtype and device as ``known``.

    Raises:
        MedinpaintError: ``window`` is not a positive odd integer, or ``known`` is not (N, 1, H, W).

    Example:
        >>> known = torch.ones(1, 1, 5, 5); known[..., 2, 2] = 0
        >>> w = importance_weights(known, window=3)
        >>> w[0, 0, 1:4, 1:4]
        tensor([[0.1111, 0.1111, 0.1111],
                [0.1111, 0.0000, 0.1111],
                [0.1111, 0.1111, 0.1111]])
    """
    if not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise MedinpaintError(f"window must be a positive odd integer, got {window!r}: use e.g. 7")
    if known.ndim != 4 or known.shape[1] != 1:
        raise MedinpaintError(
            f"known mask must have shape (N, 1, H, W), got {tuple(known.shape)}: add the channel axis"
        )
    known = known.float() if not known.is_floating_point() else known
    missing = 1.0 - known
    # count_include_pad=False divides each window sum by the number of in-image pixels: the
    # clipped-window border rule documented above.
    fraction_missing = F.avg_pool2d(
        missing, window, stride=1, padding=window // 2, count_include_pad=False
    )
    return fraction_missing * known
