"""PSNR and SSIM over the whole image or over the hole only, as MONAI cumulative metrics.

Inpainting is judged where it acted: ``region="hole"`` scores only the missing pixels, while
``region="whole"`` scores every pixel (the known ones are identical after blending, which inflates
whole-image scores). Images are (N, C, H, W) in [-1, 1], so the data range is 2.

SSIM uses MONAI's :func:`monai.metrics.regression.compute_ssim_and_cs` with a **uniform 7×7
window** (scikit-image's default window size; an 11×11 Gaussian would leave only a 54×54 valid
area of a 64×64 image), K1 = 0.01, K2 = 0.03 and population (not sample) covariances. The SSIM
map is computed on images padded by half-sample symmetric reflection (as scikit-image does), so
every pixel, hole pixels at the border included, has a value:

- whole: mean of the map over the pixels at least 3 from the border (scikit-image's ``mssim``,
  which equals MONAI's :class:`~monai.metrics.SSIMMetric` with the same window);
- hole: mean of the map over the missing pixels and all channels.

PSNR: whole = ``20·log10(2) − 10·log10(MSE)`` with the MSE over all pixels and channels; hole =
the same with the MSE over the missing pixels (all channels) only. An image without missing pixels
has no hole score: NaN, which MONAI's reductions skip. A perfect fill gives ``inf`` PSNR.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import torch
from monai.metrics.regression import RegressionMetric, compute_ssim_and_cs
from monai.utils import MetricReduction

from medinpaint.errors import MedinpaintError

__all__ = [
    "REGIONS",
    "DATA_RANGE",
    "InpaintingPSNRMetric",
    "InpaintingSSIMMetric",
    "masked_psnr",
    "ssim_map",
    "masked_ssim",
]

REGIONS = ("whole", "hole")
DATA_RANGE = 2.0


def _check_inputs(y_pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None, region: str) -> None:
    """Raise :class:`MedinpaintError` unless the shapes and region fit the conventions."""
    if region not in REGIONS:
        raise MedinpaintError(f"region {region!r} is not one of {REGIONS}: pick 'whole' or 'hole'")
    if not isinstance(y_pred, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise MedinpaintError("y_pred and y must be batch-first torch tensors (N, C, H, W): stack the images")
    if y_pred.ndim != 4 or y_pred.shape != y.shape:
        raise MedinpaintError(
            f"y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)} must both be (N, C, H, W) of the same shape"
        )
    if mask is None:
        if region == "hole":
            raise MedinpaintError("region 'hole' needs mask=(N, 1, H, W) with 1 = known, 0 = missing")
        return
    n, _, h, w = y.shape
    if mask.shape != (n, 1, h, w):
        raise MedinpaintError(f"mask has shape {tuple(mask.shape)}, expected (N, 1, H, W) = {(n, 1, h, w)}")


def _hole_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` (N, C, H, W) over the missing pixels of ``mask`` (N, 1, H, W) → (N, 1).

    An image with no missing pixel gives NaN (0 / 0).
    """
    hole = (1.0 - mask.to(values.dtype)).expand_as(values)
    return ((values * hole).flatten(1).sum(1) / hole.flatten(1).sum(1)).unsqueeze(1)


def masked_psnr(
    y_pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None, region: str = "whole"
) -> torch.Tensor:
    """PSNR per image with data range 2, over the whole image or over the hole.

    Args:
        y_pred: output images (N, C, H, W) in [-1, 1].
        y: ground truth (N, C, H, W) in [-1, 1].
        mask: (N, 1, H, W), 1 = known, 0 = missing; needed for ``region="hole"``.
        region: ``"whole"`` or ``"hole"``.

    Returns:
        (N, 1) float tensor of PSNR in dB (NaN where the hole is empty, inf where exact).

    Raises:
        MedinpaintError: bad shapes, unknown region, or no mask for the hole.

    Example:
        >>> y = torch.zeros(1, 1, 4, 4)
        >>> known = torch.ones(1, 1, 4, 4); known[..., :2, :2] = 0
        >>> round(masked_psnr(y + 0.2 * (1 - known), y, known, "hole").item(), 3)  # error 0.2 on the hole only
        20.0
    """
    _check_inputs(y_pred, y, mask, region)
    squared = (y.float() - y_pred.float()) ** 2
    mse = squared.flatten(1).mean(1, keepdim=True) if region == "whole" else _hole_mean(squared, mask)
    return 20 * math.log10(DATA_RANGE) - 10 * torch.log10(mse)


def _pad_symmetric(images: torch.Tensor, pad: int) -> torch.Tensor:
    """Half-sample symmetric padding (``d c b a | a b c d``), scipy's and numpy's 'reflect'/'symmetric'."""
    rows = torch.cat([images[..., :pad, :].flip(-2), images, images[..., -pad:, :].flip(-2)], dim=-2)
    return torch.cat([rows[..., :pad].flip(-1), rows, rows[..., -pad:].flip(-1)], dim=-1)


def ssim_map(
    y_pred: torch.Tensor,
    y: torch.Tensor,
    win_size: int = 7,
    kernel_type: str = "uniform",
    kernel_sigma: float = 1.5,
) -> torch.Tensor:
    """Full-size SSIM map (N, C, H, W) through MONAI, images padded by symmetric reflection.

    Args:
        y_pred: output images (N, C, H, W) in [-1, 1].
        y: ground truth (N, C, H, W) in [-1, 1].
        win_size: odd window size.
        kernel_type: ``"uniform"`` or ``"gaussian"`` (MONAI's kernel types).
        kernel_sigma: Gaussian standard deviation (ignored for uniform).

    Returns:
        SSIM at every pixel, same shape as ``y``.

    Example:
        >>> y = torch.rand(1, 1, 16, 16) * 2 - 1
        >>> bool(torch.allclose(ssim_map(y, y), torch.ones(1, 1, 16, 16)))
        True
    """
    pad = win_size // 2
    full, _ = compute_ssim_and_cs(
        y_pred=_pad_symmetric(y_pred.float(), pad),
        y=_pad_symmetric(y.float(), pad),
        spatial_dims=2,
        kernel_size=(win_size, win_size),
        kernel_sigma=(kernel_sigma, kernel_sigma),
        data_range=DATA_RANGE,
        kernel_type=kernel_type,
    )
    return full


def masked_ssim(
    y_pred: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor | None = None,
    region: str = "whole",
    win_size: int = 7,
    **kernel: Any,
) -> torch.Tensor:
    """SSIM per image: interior mean (whole) or mean over the missing pixels (hole).

    Args:
        y_pred, y, mask, region: as for :func:`masked_psnr`.
        win_size: odd SSIM window size (default 7).
        kernel: ``kernel_type`` (``"uniform"``, the default, or ``"gaussian"``) and
            ``kernel_sigma`` of :func:`ssim_map`.

    Returns:
        (N, 1) float tensor (NaN where the hole is empty).

    Raises:
        MedinpaintError: bad shapes, unknown region, no mask for the hole, or images smaller
            than the window.

    Example:
        >>> y = torch.linspace(-1, 1, 256).reshape(1, 1, 16, 16)
        >>> round(masked_ssim(y, y).item(), 4)
        1.0
    """
    _check_inputs(y_pred, y, mask, region)
    if win_size % 2 == 0 or min(y.shape[-2:]) <= win_size:
        raise MedinpaintError(f"SSIM window {win_size} must be odd and smaller than the image {tuple(y.shape[-2:])}")
    full = ssim_map(y_pred, y, win_size, **kernel)
    if region == "hole":
        return _hole_mean(full, mask)
    pad = win_size // 2
    return full[..., pad:-pad, pad:-pad].flatten(1).mean(1, keepdim=True)


class _InpaintingMetric(RegressionMetric):
    """MONAI cumulative metric with a ``mask`` argument and a ``region``; subclasses set the maths."""

    def __init__(self, region: str = "hole", reduction: MetricReduction | str = MetricReduction.MEAN) -> None:
        super().__init__(reduction=reduction, get_not_nans=False)
        if region not in REGIONS:
            raise MedinpaintError(f"region {region!r} is not one of {REGIONS}: pick 'whole' or 'hole'")
        self.region = region

    def __call__(  # type: ignore[override]
        self, y_pred: Any, y: Any = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Score one batch (N, C, H, W) against ``y`` with ``mask`` (N, 1, H, W); keep it for ``aggregate``."""
        _check_inputs(y_pred, y, mask, self.region)
        return super().__call__(y_pred=y_pred, y=y, mask=mask)

    def _compute_tensor(  # type: ignore[override]
        self, y_pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self._compute_masked(y_pred, y, mask)

    def _compute_metric(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._compute_masked(y_pred, y, None)

    @abstractmethod
    def _compute_masked(self, y_pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Per-image score (N, 1) for one batch."""


class InpaintingPSNRMetric(_InpaintingMetric):
    """Cumulative PSNR (data range 2) over the whole image or the hole (see :func:`masked_psnr`).

    Args:
        region: ``"whole"`` or ``"hole"`` (default).
        reduction: MONAI reduction for :meth:`aggregate` (NaNs are skipped), default ``"mean"``.

    Example:
        >>> metric = InpaintingPSNRMetric(region="hole")
        >>> y = torch.zeros(2, 1, 8, 8); known = torch.ones(2, 1, 8, 8); known[..., 2:5, 2:5] = 0
        >>> _ = metric(y_pred=y + 0.2 * (1 - known), y=y, mask=known)
        >>> _ = metric(y_pred=y + 0.02 * (1 - known), y=y, mask=known)
        >>> [round(v, 2) for v in metric.get_buffer().flatten().tolist()]
        [20.0, 20.0, 40.0, 40.0]
        >>> round(metric.aggregate().item(), 2)
        30.0
    """

    def _compute_masked(self, y_pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return masked_psnr(y_pred, y, mask, self.region)


class InpaintingSSIMMetric(_InpaintingMetric):
    """Cumulative SSIM over the whole image or the hole (see :func:`masked_ssim`).

    Args:
        region: ``"whole"`` or ``"hole"`` (default).
        win_size: odd window size (default 7).
        kernel_type: ``"uniform"`` (default) or ``"gaussian"``.
        kernel_sigma: Gaussian standard deviation (ignored for uniform).
        reduction: MONAI reduction for :meth:`aggregate` (NaNs are skipped), default ``"mean"``.

    Example:
        >>> metric = InpaintingSSIMMetric(region="whole")
        >>> y = torch.linspace(-1, 1, 2 * 16 * 16).reshape(2, 1, 16, 16)
        >>> _ = metric(y_pred=y, y=y, mask=torch.ones(2, 1, 16, 16))
        >>> round(metric.aggregate().item(), 4)
        1.0
        >>> metric.reset()
    """

    def __init__(
        self,
        region: str = "hole",
        win_size: int = 7,
        kernel_type: str = "uniform",
        kernel_sigma: float = 1.5,
        reduction: MetricReduction | str = MetricReduction.MEAN,
    ) -> None:
        super().__init__(region=region, reduction=reduction)
        self.win_size = win_size
        self.kernel_type = kernel_type
        self.kernel_sigma = kernel_sigma

    def _compute_masked(self, y_pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return masked_ssim(y_pred, y, mask, self.region, self.win_size, kernel_type=self.kernel_type, kernel_sigma=self.kernel_sigma)
