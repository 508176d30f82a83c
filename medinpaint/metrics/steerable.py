"""Real steerable pyramid built in the Fourier domain (Simoncelli & Freeman 1995), in numpy.

A plain re-implementation of ``buildSFpyr`` from matlabPyrTools, the pyramid the NRQM reference
code uses: a high-pass residual, ``height`` levels of ``n_bands`` oriented bands (level 1 at full
resolution, each further level at half the size of the previous one) and a low-pass residual.
Radial masks are the raised-cosine pair ``cos(π/2·clip(log2 r + k, −1, 0))`` / its complement on
the octave ``k``; angular masks are ``√c · cos(θ − πb/K)^(K−1)`` with c chosen so the bands tile
the spectrum. The masks are evaluated in closed form where matlabPyrTools interpolates look-up
tables (differences of the order of 1e-5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["SteerablePyramid", "steerable_pyramid"]


@dataclass(frozen=True)
class SteerablePyramid:
    """Sub-bands of one image.

    Attributes:
        highpass: (H, W) high-pass residual.
        bands: ``bands[level][orientation]``, level 0 of size (H, W), level 1 about (H/2, W/2), …
        lowpass: low-pass residual at the size of the last level halved.
    """

    highpass: np.ndarray
    bands: list[list[np.ndarray]]
    lowpass: np.ndarray


def _high_mask(log_radius: np.ndarray) -> np.ndarray:
    return np.cos(np.pi / 2 * np.clip(log_radius, -1.0, 0.0))


def _low_mask(log_radius: np.ndarray) -> np.ndarray:
    return np.abs(np.sin(np.pi / 2 * np.clip(log_radius, -1.0, 0.0)))


def _centred_crop(array: np.ndarray) -> np.ndarray:
    """Central low-frequency half of an fftshift-ed spectrum (matlabPyrTools index arithmetic)."""
    dims = np.array(array.shape)
    centre = np.ceil((dims + 0.5) / 2).astype(int)
    low_dims = np.ceil((dims - 0.5) / 2).astype(int)
    low_centre = np.ceil((low_dims + 0.5) / 2).astype(int)
    start = centre - low_centre
    return array[start[0] : start[0] + low_dims[0], start[1] : start[1] + low_dims[1]]


def steerable_pyramid(image: np.ndarray, height: int = 2, n_bands: int = 6) -> SteerablePyramid:
    """Decompose a (H, W) image into a real steerable pyramid.

    Args:
        image: (H, W) float array.
        height: number of band-pass levels.
        n_bands: orientations per level (filter order ``n_bands − 1``).

    Returns:
        The :class:`SteerablePyramid`.

    Example:
        >>> pyramid = steerable_pyramid(np.random.default_rng(0).normal(size=(64, 64)))
        >>> len(pyramid.bands), len(pyramid.bands[0]), pyramid.bands[1][0].shape, pyramid.lowpass.shape
        (2, 6, (32, 32), (16, 16))
    """
    rows, cols = image.shape
    centre = (int(math.ceil((rows + 0.5) / 2)) - 1, int(math.ceil((cols + 0.5) / 2)) - 1)
    y_ramp, x_ramp = np.meshgrid(
        (np.arange(rows) - centre[0]) / (rows / 2), (np.arange(cols) - centre[1]) / (cols / 2), indexing="ij"
    )
    angle = np.arctan2(y_ramp, x_ramp)
    radius = np.hypot(x_ramp, y_ramp)
    radius[centre] = radius[centre[0], centre[1] - 1]
    log_radius = np.log2(radius)

    spectrum = np.fft.fftshift(np.fft.fft2(image))
    highpass = np.real(np.fft.ifft2(np.fft.ifftshift(spectrum * _high_mask(log_radius))))
    low_spectrum = spectrum * _low_mask(log_radius)

    order = n_bands - 1
    gain = math.sqrt(2 ** (2 * order) * math.factorial(order) ** 2 / (n_bands * math.factorial(2 * order)))
    bands = []
    for level in range(1, height + 1):
        radial = _high_mask(log_radius + level) * (-1j) ** order
        level_bands = []
        for band in range(n_bands):
            angular = gain * np.cos(angle - np.pi * band / n_bands) ** order
            level_bands.append(np.real(np.fft.ifft2(np.fft.ifftshift(low_spectrum * angular * radial))))
        bands.append(level_bands)
        log_radius, angle, low_spectrum = (_centred_crop(a) for a in (log_radius, angle, low_spectrum))
        low_spectrum = low_spectrum * _low_mask(log_radius + level)
    lowpass = np.real(np.fft.ifft2(np.fft.ifftshift(low_spectrum)))
    return SteerablePyramid(highpass=highpass, bands=bands, lowpass=lowpass)
