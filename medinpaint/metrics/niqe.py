"""NIQE (Mittal, Soundararajan & Bovik 2013), re-fitted per domain for 64×64 images.

The published NIQE model was fitted on 96×96 blocks of natural photographs, which neither fit in a
64×64 image nor describe MRI. Here the pristine model is fitted on the domain's own clean training
images (:func:`fit_niqe`) and saved as ``.npz``; :func:`niqe` scores an image against it. Lower is
more natural.

Protocol (per image, luminance on the 0–255 scale, see :func:`~medinpaint.metrics.scene_stats.luminance_255`):

1. MSCN coefficients ``(I − μ) / (σ + 1)`` with a 7×7 Gaussian window (σ = 7/6, replicated border);
2. the image is cut into non-overlapping ``block_size`` blocks (default **16**, so a 64×64 image
   gives 16 blocks); per block: GGD fit of the MSCN values (shape, variance) and AGGD fits of the
   four neighbour products (horizontal, vertical, two diagonals; shape, mean, left and right
   variance) → 18 features;
3. the same at half resolution (bicubic, antialiased; blocks of ``block_size / 2``) → 36 features;
4. flat blocks (mean local σ below 1 grey level, e.g. MRI background) carry no statistics and are
   skipped; when fitting, only the sharpest blocks of each image are kept (mean σ above 0.75 × the
   image's sharpest block, as in the original);
5. NIQE = √((ν₁ − ν₂)ᵀ ((Σ₁ + Σ₂)/2)⁺ (ν₁ − ν₂)) between the pristine Gaussian
   (ν₁, Σ₁) and the Gaussian of the image's block features (ν₂, Σ₂).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import correlate

from medinpaint.errors import MedinpaintError
from medinpaint.metrics._files import load_npz, save_npz_atomic
from medinpaint.metrics.scene_stats import aggd_fit, ggd_fit, luminance_255

__all__ = ["NiqeModel", "niqe_block_features", "fit_niqe", "niqe"]

FLAT_SIGMA = 1.0
SHARPNESS_FRACTION = 0.75
_NEIGHBOUR_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _gaussian_window(size: int = 7, sigma: float = 7 / 6) -> np.ndarray:
    offsets = np.arange(size) - size // 2
    window = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2))
    return window / window.sum()


_WINDOW = _gaussian_window()


def _mscn(luminance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MSCN coefficients and the local σ map of a (H, W) float image."""
    mu = correlate(luminance, _WINDOW, mode="nearest")
    sigma = np.sqrt(np.abs(correlate(luminance**2, _WINDOW, mode="nearest") - mu**2))
    return (luminance - mu) / (sigma + 1.0), sigma


def _blocks(image: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping ``size``×``size`` blocks of a (H, W) image → (n_blocks, size²); edges dropped."""
    rows, cols = image.shape[0] // size, image.shape[1] // size
    cropped = image[: rows * size, : cols * size]
    return cropped.reshape(rows, size, cols, size).transpose(0, 2, 1, 3).reshape(rows * cols, size * size)


def _scale_features(luminance: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """18 features per block at one scale and each block's mean local σ → ((B, 18), (B,))."""
    mscn, sigma = _mscn(luminance)
    shape, variance = ggd_fit(_blocks(mscn, size))
    columns = [shape, variance]
    for shift in _NEIGHBOUR_SHIFTS:
        product = mscn * np.roll(mscn, shift=(-shift[0], -shift[1]), axis=(0, 1))
        columns.extend(aggd_fit(_blocks(product, size)))
    return np.stack(columns, axis=1), _blocks(sigma, size).mean(axis=1)


def _half_scale(luminance: np.ndarray) -> np.ndarray:
    """Bicubic, antialiased ×0.5 resize (MATLAB ``imresize(I, 0.5)``)."""
    tensor = torch.from_numpy(luminance)[None, None]
    return F.interpolate(tensor, scale_factor=0.5, mode="bicubic", antialias=True, align_corners=False)[0, 0].numpy()


def niqe_block_features(image: torch.Tensor | np.ndarray, block_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """36 NIQE features for every block of one image, and each block's sharpness.

    Args:
        image: one image (C, H, W) in [-1, 1], C = 1 or 3.
        block_size: even block size at full resolution (at least 8).

    Returns:
        ``(features, sharpness)``: (B, 36) float64 and (B,) mean local σ (0–255 scale), with only
        the non-flat blocks whose features are all finite.

    Raises:
        MedinpaintError: bad block size or image shape.

    Example:
        >>> image = torch.rand(1, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
        >>> features, sharpness = niqe_block_features(image)
        >>> features.shape, sharpness.shape
        ((16, 36), (16,))
    """
    if block_size < 8 or block_size % 2:
        raise MedinpaintError(f"NIQE block size {block_size} must be even and at least 8: use 16 for 64×64 images")
    luminance = luminance_255(image)
    if min(luminance.shape) < block_size:
        raise MedinpaintError(f"image {luminance.shape} is smaller than the NIQE block size {block_size}")
    full, sharpness = _scale_features(luminance, block_size)
    half, _ = _scale_features(_half_scale(luminance), block_size // 2)
    features = np.concatenate([full, half], axis=1)
    keep = (sharpness >= FLAT_SIGMA) & np.isfinite(features).all(axis=1)
    return features[keep], sharpness[keep]


@dataclass(frozen=True)
class NiqeModel:
    """Pristine multivariate Gaussian of NIQE block features for one domain.

    Attributes:
        mean: (36,) feature mean ν₁.
        cov: (36, 36) feature covariance Σ₁.
        block_size: block size the model was fitted with (scores must use the same).
        n_blocks: blocks the fit used.
        fitted_on: free text naming the clean images (e.g. "MNI152 T1 axial slices, 64×64").
    """

    mean: np.ndarray
    cov: np.ndarray
    block_size: int
    n_blocks: int
    fitted_on: str

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the model as ``.npz`` (arrays mean, cov, block_size, n_blocks, fitted_on), atomically.

        Raises:
            MedinpaintError: the file exists and ``overwrite`` is false, or the suffix is not .npz.
        """
        return save_npz_atomic(
            path,
            overwrite=overwrite,
            mean=self.mean,
            cov=self.cov,
            block_size=np.array(self.block_size),
            n_blocks=np.array(self.n_blocks),
            fitted_on=np.array(self.fitted_on),
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> NiqeModel:
        """Read a model written by :meth:`save`.

        Raises:
            MedinpaintError: missing file or not a NIQE model.
        """
        arrays = load_npz(path, ("mean", "cov", "block_size", "n_blocks", "fitted_on"), "NIQE model")
        return cls(
            mean=arrays["mean"],
            cov=arrays["cov"],
            block_size=int(arrays["block_size"]),
            n_blocks=int(arrays["n_blocks"]),
            fitted_on=str(arrays["fitted_on"]),
        )


def fit_niqe(
    clean_images: torch.Tensor | np.ndarray | Iterable[torch.Tensor | np.ndarray],
    block_size: int = 16,
    fitted_on: str = "",
) -> NiqeModel:
    """Fit the pristine NIQE model on a domain's clean images.

    Args:
        clean_images: (N, C, H, W) in [-1, 1], or an iterable of (C, H, W) images.
        block_size: block size (default 16, four blocks per side of a 64×64 image).
        fitted_on: description of the images, stored in the model.

    Returns:
        The fitted :class:`NiqeModel`.

    Raises:
        MedinpaintError: fewer sharp blocks than features + 1 (too few or too flat images).

    Example:
        >>> rng = torch.Generator().manual_seed(0)
        >>> model = fit_niqe(torch.rand(8, 1, 64, 64, generator=rng) * 2 - 1, fitted_on="noise")
        >>> model.mean.shape, model.cov.shape, model.block_size
        ((36,), (36, 36), 16)
    """
    selected = []
    for image in clean_images:
        features, sharpness = niqe_block_features(image, block_size)
        if len(features):
            selected.append(features[sharpness > SHARPNESS_FRACTION * sharpness.max()])
    stacked = np.concatenate(selected) if selected else np.empty((0, 36))
    if len(stacked) <= stacked.shape[1]:
        raise MedinpaintError(
            f"only {len(stacked)} sharp {block_size}×{block_size} blocks to fit NIQE's 36 features: "
            "give more (or less flat) clean images"
        )
    return NiqeModel(
        mean=stacked.mean(axis=0),
        cov=np.cov(stacked, rowvar=False),
        block_size=block_size,
        n_blocks=len(stacked),
        fitted_on=fitted_on,
    )


def niqe(image: torch.Tensor | np.ndarray, model: NiqeModel) -> float:
    """NIQE score of one image against a pristine model (lower = more natural).

    Args:
        image: one image (C, H, W) in [-1, 1].
        model: the domain's :class:`NiqeModel`.

    Returns:
        The score, a non-negative float.

    Raises:
        MedinpaintError: the image has no textured block (e.g. a constant image).

    Example:
        >>> rng = torch.Generator().manual_seed(0)
        >>> model = fit_niqe(torch.rand(8, 1, 64, 64, generator=rng) * 2 - 1)  # "pristine" = uniform noise
        >>> alike, ramp = torch.rand(1, 64, 64, generator=rng) * 2 - 1, torch.linspace(-1, 1, 4096).reshape(1, 64, 64)
        >>> niqe(alike, model) < niqe(ramp, model)
        True
    """
    features, _ = niqe_block_features(image, model.block_size)
    if not len(features):
        raise MedinpaintError(
            f"image has no textured {model.block_size}×{model.block_size} block (all flat): NIQE is undefined for it"
        )
    image_cov = np.cov(features, rowvar=False) if len(features) > 1 else np.zeros_like(model.cov)
    difference = model.mean - features.mean(axis=0)
    distance = difference @ np.linalg.pinv((model.cov + image_cov) / 2) @ difference
    return float(np.sqrt(max(distance, 0.0)))
