"""Natural-scene-statistics building blocks shared by NIQE and NRQM.

Plain numpy maths: the luminance image the no-reference metrics see, and moment-matching fits of
the generalised Gaussian (GGD) and asymmetric generalised Gaussian (AGGD) distributions
(Sharifi & Leon-Garcia 1995; Lasmar et al. 2009), vectorised over rows so that every block of
every image is fitted in one call. Shapes are looked up on the grid 0.03, 0.031, …, 10.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import gammaln

from medinpaint.errors import MedinpaintError

__all__ = ["SHAPE_GRID", "luminance_255", "ggd_fit", "aggd_fit"]

SHAPE_GRID = np.arange(0.03, 10.0005, 0.001)
# GGD moment ratio Γ(1/a)Γ(3/a)/Γ(2/a)², strictly decreasing in the shape a.
_RATIO = np.exp(gammaln(1 / SHAPE_GRID) + gammaln(3 / SHAPE_GRID) - 2 * gammaln(2 / SHAPE_GRID))
_RATIO_ASCENDING = _RATIO[::-1]
_SHAPE_ASCENDING = SHAPE_GRID[::-1]


def luminance_255(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """One image (C, H, W) or (1, C, H, W) in [-1, 1] → float64 luminance (H, W) in [0, 255].

    Grey images pass through; RGB becomes Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601).

    Args:
        image: one image, 1 or 3 channels, channels first.

    Returns:
        (H, W) float64 array.

    Raises:
        MedinpaintError: not one image with 1 or 3 channels.

    Example:
        >>> luminance_255(torch.zeros(3, 2, 2))[0, 0]
        np.float64(127.5)
    """
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[0] not in (1, 3):
        raise MedinpaintError(f"expected one image (C, H, W) with C = 1 or 3, got shape {array.shape}")
    array = (array.astype(np.float64) + 1.0) * 127.5
    if array.shape[0] == 1:
        return array[0]
    return np.tensordot(np.array([0.299, 0.587, 0.114]), array, axes=1)


def _shape_from_ratio(ratio: np.ndarray) -> np.ndarray:
    """Nearest grid shape whose GGD moment ratio is closest to ``ratio`` (NaN stays NaN)."""
    ratio = np.asarray(ratio, dtype=np.float64)
    upper = np.clip(np.searchsorted(_RATIO_ASCENDING, ratio), 1, len(_RATIO_ASCENDING) - 1)
    lower = upper - 1
    pick_upper = np.abs(_RATIO_ASCENDING[upper] - ratio) < np.abs(_RATIO_ASCENDING[lower] - ratio)
    shape = np.where(pick_upper, _SHAPE_ASCENDING[upper], _SHAPE_ASCENDING[lower])
    return np.where(np.isfinite(ratio), shape, np.nan)


def ggd_fit(samples: np.ndarray, centred: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Fit a zero-mean GGD to each row by moment matching.

    Args:
        samples: (..., n) array; each row is fitted on its own.
        centred: ``False`` (NIQE/BRISQUE): ratio E[x²] / E[|x|]². ``True`` (BLIINDS/DIIVINE, used by
            NRQM): ratio var(x) / E[|x − mean|]², sample variance (n − 1).

    Returns:
        ``(shape, variance)``, each of shape ``samples.shape[:-1]``; a row of zeros gives NaN shape.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> shape, variance = ggd_fit(rng.normal(0, 2, size=(1, 100_000)))
        >>> round(float(shape[0]), 1), round(float(variance[0]), 1)
        (2.0, 4.0)
    """
    samples = np.asarray(samples, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if centred:
            variance = samples.var(axis=-1, ddof=1)
            spread = np.abs(samples - samples.mean(axis=-1, keepdims=True)).mean(axis=-1)
        else:
            variance = (samples**2).mean(axis=-1)
            spread = np.abs(samples).mean(axis=-1)
        return _shape_from_ratio(variance / spread**2), variance


def aggd_fit(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fit an asymmetric GGD to each row (Lasmar et al. 2009, as in BRISQUE/NIQE).

    Args:
        samples: (..., n) array; each row is fitted on its own.

    Returns:
        ``(shape, mean, left_variance, right_variance)``, each of shape ``samples.shape[:-1]``.
        A row without negative or without positive values gives NaN.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> shape, mean, left, right = aggd_fit(rng.normal(0, 1, size=(1, 100_000)))
        >>> round(float(shape[0]), 1), round(float(left[0]), 1), round(float(right[0]), 1)
        (2.0, 1.0, 1.0)
    """
    samples = np.asarray(samples, dtype=np.float64)
    negative, positive = samples < 0, samples > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        left_variance = (samples**2 * negative).sum(axis=-1) / negative.sum(axis=-1)
        right_variance = (samples**2 * positive).sum(axis=-1) / positive.sum(axis=-1)
        gamma_hat = np.sqrt(left_variance / right_variance)
        r_hat = np.abs(samples).mean(axis=-1) ** 2 / (samples**2).mean(axis=-1)
        r_hat_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
        shape = _shape_from_ratio(1.0 / r_hat_norm)
        mean = (
            (np.sqrt(right_variance) - np.sqrt(left_variance))
            * np.exp(gammaln(2 / shape) - gammaln(1 / shape))
            * np.exp(0.5 * (gammaln(1 / shape) - gammaln(3 / shape)))
        )
    return shape, mean, left_variance, right_variance
