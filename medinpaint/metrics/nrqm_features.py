"""The three NRQM feature groups (Ma, Yang, Yang & Yang, CVIU 2017), re-implemented in numpy.

Written from the paper and the layout of its MIT-licensed MATLAB reference (chaoma99/sr-metric).
All features are computed on the luminance image (0–255, :func:`~.scene_stats.luminance_255`):

- **local frequency, 18**: a 3-level Gaussian pyramid of the image scaled to [0, 1] (3×3 Gaussian,
  σ = 0.5, zero border, keep every second pixel from the second). On each level, 7×7 blocks with a
  stride of 3 (valid positions only) are DCT-transformed (orthonormal DCT-II); per block: the GGD
  shape of the 48 AC coefficients, their coefficient of variation std(|c|)/mean(|c|), and the
  variance across three orientation groups of that coefficient of variation. Each is pooled over
  blocks as the mean of the worst 10 % (lowest shapes, highest variations) and the mean of all
  → 6 per level.
- **global frequency, 45**: a real steerable pyramid (2 levels × 6 orientations,
  :mod:`.steerable`) of the 0–255 image; each band is divisively normalised by a Gaussian scale
  mixture fitted to its 3×3 neighbourhood, its parent (next level, bicubic-resized) and the other
  five orientations, then a border (1 + 16 pixels at level 1, 1 + 8 at level 2) is cut away.
  Features: GGD shape of each normalised band (12) and of each orientation's two levels pooled
  (6); SSIM between each band (resized) and the high-pass residual (12); SSIM between every pair
  of level-1 orientations (15). SSIM here: MONAI's, Gaussian 11×11, σ = 1.5, data range 1,
  mean over the valid window positions.
- **spatial, 75**: on each pyramid level, the 25 singular values of the matrix of
  non-overlapping 5×5 blocks (zero-padded at the right and bottom). A 64×64 image's third level
  (16×16) has only 16 blocks, so that matrix has rank ≤ 16: its last 9 singular values are 0 and
  are reported as 0.

Blocks without AC energy (flat background) give undefined shapes and variations; they are left
out of the pooling. Resizing is bicubic with PyTorch's antialiased kernel (a = −0.5, as MATLAB's
``imresize``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from monai.metrics.regression import compute_ssim_and_cs
from numpy.lib.stride_tricks import sliding_window_view
from scipy.fft import dctn
from scipy.ndimage import correlate

from medinpaint.metrics.scene_stats import ggd_fit, luminance_255
from medinpaint.metrics.steerable import steerable_pyramid

__all__ = [
    "FEATURE_SIZES",
    "local_frequency_features",
    "global_frequency_features",
    "spatial_features",
    "nrqm_features",
]

FEATURE_SIZES = {"local_frequency": 18, "global_frequency": 45, "spatial": 75}
_DCT_BLOCK, _DCT_STRIDE, _SVD_BLOCK, _GUARD_BAND = 7, 3, 5, 16


def _orientation_masks() -> np.ndarray:
    """Three (7, 7) boolean masks of DCT coefficients: low-vertical, diagonal and low-horizontal."""
    masks = np.zeros((3, 7, 7), dtype=bool)
    for row, first_col in ((0, 1), (1, 2), (2, 4), (3, 5)):
        masks[0, row, first_col:] = True
    for row, first_col, end_col in ((1, 1, 2), (2, 2, 4), (3, 2, 5), (4, 3, 7), (5, 4, 7), (6, 4, 7)):
        masks[1, row, first_col:end_col] = True
    masks[2] = masks[0].T
    return masks


_ORIENTATIONS = _orientation_masks()


def _gaussian_pyramid(image01: np.ndarray, levels: int = 3) -> list[np.ndarray]:
    """The image and its ``levels − 1`` reductions (3×3 Gaussian σ = 0.5, zero border, [1::2])."""
    offsets = np.arange(3) - 1
    window = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * 0.5**2))
    window /= window.sum()
    pyramid = [image01]
    for _ in range(levels - 1):
        pyramid.append(correlate(pyramid[-1], window, mode="constant")[1::2, 1::2])
    return pyramid


def _variation(values: np.ndarray) -> np.ndarray:
    """Coefficient of variation std(|x|) / mean(|x|) along the last axis (sample std)."""
    magnitude = np.abs(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        return magnitude.std(axis=-1, ddof=1) / magnitude.mean(axis=-1)


def _pool(values: np.ndarray, worst: str) -> tuple[float, float]:
    """Mean of the worst 10 % (``"low"`` or ``"high"`` end) and mean of all finite values."""
    values = np.sort(values[np.isfinite(values)])
    if not len(values):
        return math.nan, math.nan
    tail = max(1, math.ceil(0.1 * len(values)))
    extreme = values[:tail] if worst == "low" else values[-tail:]
    return float(extreme.mean()), float(values.mean())


def local_frequency_features(luminance: np.ndarray) -> np.ndarray:
    """18 block-DCT statistics (6 per level of a 3-level pyramid).

    Args:
        luminance: (H, W) image on the 0–255 scale, at least 64×64 for three usable levels.

    Returns:
        (18,) float64.

    Example:
        >>> local_frequency_features(np.random.default_rng(0).uniform(0, 255, (64, 64))).shape
        (18,)
    """
    features = []
    for level in _gaussian_pyramid(luminance / 255.0):
        windows = sliding_window_view(level, (_DCT_BLOCK, _DCT_BLOCK))[::_DCT_STRIDE, ::_DCT_STRIDE]
        coefficients = dctn(windows.reshape(-1, _DCT_BLOCK, _DCT_BLOCK), axes=(1, 2), norm="ortho")
        ac = coefficients.reshape(len(coefficients), -1)[:, 1:]
        shape, _ = ggd_fit(ac, centred=True)
        oriented = np.stack([_variation(coefficients[:, mask]) for mask in _ORIENTATIONS], axis=1)
        features += [*_pool(shape, "low"), *_pool(_variation(ac), "high"), *_pool(oriented.var(axis=1, ddof=1), "high")]
    return np.array(features)


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64))[None, None]
    return F.interpolate(tensor, size=size, mode="bicubic", antialias=True, align_corners=False)[0, 0].numpy()


def _ssim(firsts: list[np.ndarray], seconds: list[np.ndarray]) -> list[float]:
    """SSIM (Gaussian 11×11, σ 1.5, data range 1, valid positions) of pairs of same-size arrays."""
    ssim, _ = compute_ssim_and_cs(
        y_pred=torch.from_numpy(np.stack(firsts))[:, None].float(),
        y=torch.from_numpy(np.stack(seconds))[:, None].float(),
        spatial_dims=2,
        kernel_size=(11, 11),
        kernel_sigma=(1.5, 1.5),
        data_range=1.0,
    )
    return ssim.flatten(1).mean(1).double().tolist()


def _normalised_band(bands: list[list[np.ndarray]], level: int, orientation: int) -> np.ndarray:
    """Divisive (GSM) normalisation of one band by its neighbourhood, parent and sibling orientations."""
    band = bands[level][orientation]
    rows, cols = band.shape[0] - 2, band.shape[1] - 2
    neighbours = [sliding_window_view(band, (3, 3)).reshape(rows * cols, 9)]
    n_spatial = 9
    if level + 1 < len(bands):
        parent = _resize(bands[level + 1][orientation], band.shape)
        neighbours.append(parent[1:-1, 1:-1].reshape(-1, 1))
        n_spatial += 1
    neighbours += [bands[level][o][1:-1, 1:-1].reshape(-1, 1) for o in range(len(bands[level])) if o != orientation]
    vectors = np.concatenate(neighbours, axis=1)
    eigenvalues, eigenvectors = np.linalg.eigh(vectors.T @ vectors / len(vectors))
    positive = np.clip(eigenvalues, 0, None)
    if positive.sum() > 0:  # drop negative eigenvalues, keep the trace
        eigenvalues = positive * eigenvalues.sum() / positive.sum()
    covariance = eigenvectors @ np.diag(eigenvalues) @ eigenvectors.T
    scale = np.sqrt(np.clip(((vectors @ np.linalg.pinv(covariance)) * vectors).sum(axis=1) / n_spatial, 0, None))
    centre = band[1:-1, 1:-1].reshape(-1)
    centre = centre - centre.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = np.where(scale > 0, centre / scale, 0.0).reshape(rows, cols)
    guard = _GUARD_BAND // 2**level
    normalised = normalised[guard:-guard, guard:-guard]
    return normalised - normalised.mean()


def global_frequency_features(luminance: np.ndarray) -> np.ndarray:
    """45 steerable-pyramid / GSM statistics.

    Args:
        luminance: (H, W) image on the 0–255 scale, at least 64×64.

    Returns:
        (45,) float64.

    Example:
        >>> global_frequency_features(np.random.default_rng(0).uniform(0, 255, (64, 64))).shape
        (45,)
    """
    pyramid = steerable_pyramid(luminance, height=2, n_bands=6)
    n_bands = len(pyramid.bands[0])
    normalised = [[_normalised_band(pyramid.bands, level, o) for o in range(n_bands)] for level in range(2)]
    flat = [band for level in normalised for band in level]
    features = [ggd_fit(band.ravel(), centred=True)[0] for band in flat]
    features += [
        ggd_fit(np.concatenate([normalised[0][o].ravel(), normalised[1][o].ravel()]), centred=True)[0]
        for o in range(n_bands)
    ]
    features += _ssim([_resize(band, pyramid.highpass.shape) for band in flat], [pyramid.highpass] * len(flat))
    pairs = [(i, j) for i in range(n_bands) for j in range(i + 1, n_bands)]
    features += _ssim([normalised[0][i] for i, _ in pairs], [normalised[0][j] for _, j in pairs])
    return np.array(features, dtype=np.float64)


def spatial_features(luminance: np.ndarray) -> np.ndarray:
    """75 singular values: 25 per pyramid level of the matrix of 5×5 blocks.

    Args:
        luminance: (H, W) image on the 0–255 scale, at least 64×64.

    Returns:
        (75,) float64, each level's values in decreasing order (zeros past a level's rank).

    Example:
        >>> spatial_features(np.random.default_rng(0).uniform(0, 255, (64, 64))).shape
        (75,)
    """
    features = []
    for level in _gaussian_pyramid(luminance / 255.0):
        padded = np.pad(level, [(0, -size % _SVD_BLOCK) for size in level.shape])
        rows, cols = padded.shape[0] // _SVD_BLOCK, padded.shape[1] // _SVD_BLOCK
        blocks = padded.reshape(rows, _SVD_BLOCK, cols, _SVD_BLOCK).transpose(0, 2, 1, 3).reshape(-1, _SVD_BLOCK**2)
        singular = np.linalg.svd(blocks, compute_uv=False)
        features.append(np.pad(singular, (0, _SVD_BLOCK**2 - len(singular))))
    return np.concatenate(features)


def nrqm_features(image: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three NRQM feature vectors of one image.

    Args:
        image: one image (C, H, W) in [-1, 1], C = 1 or 3, at least 64×64.

    Returns:
        ``(local_frequency (18,), global_frequency (45,), spatial (75,))``.

    Example:
        >>> [f.shape for f in nrqm_features(torch.rand(3, 64, 64) * 2 - 1)]
        [(18,), (45,), (75,)]
    """
    luminance = luminance_255(image)
    return local_frequency_features(luminance), global_frequency_features(luminance), spatial_features(luminance)
