"""Hole scores of an inpainted volume against the truth: the BraTS-Inpainting protocol and our own.

Both protocols score only the hole (the voxels the method had to fill) and return
``{"ssim", "psnr", "mse", "mae"}``. Both use one SSIM map: torchmetrics'
``structural_similarity_index_measure`` (11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03,
reflection padding, so every voxel has a value) on the volumes laid out as a ``[1, X, Y, Z]``
tensor, as the challenge passes them. torchmetrics reads a 4-D tensor as (batch, channel, H, W),
so this is **2-D SSIM on each slice along the first voxel axis** (X is the channel axis), not 3-D
SSIM. The score is the mean of that map over the hole voxels.

- ``brats``: a clean-room implementation of the BraTS 2023 Local Synthesis (inpainting)
  challenge's published metrics (Kofler et al. 2023, arXiv:2305.08992, and the description in the
  challenge's ``inpainting`` package), written from the description, not from its AGPL code.
  Prediction and truth are each multiplied by the hole mask (0 outside the hole), clipped to
  ``[low, high]`` and scaled to [0, 1] by ``(x - low) / (high - low)``, where ``high`` and ``low``
  are the 99.5th and 0.5th percentiles of **all** voxels of the voided input (the image the method
  was given, its hole and background zeros included) and ``low`` is raised to 0 when negative.
  SSIM with the data range taken from the data (the larger of the two normalised volumes'
  max − min); MSE and MAE over the hole voxels; PSNR = 10·log10(R² / MSE′) with R = max − min of
  the normalised truth's hole voxels and MSE′ the MSE after clamping the prediction's hole voxels
  to that [min, max] (as the challenge package ``inpainting`` 0.0.12 does through torchmetrics'
  ``PeakSignalNoiseRatio(data_range=(min, max))``).
- ``hole``: medinpaint's own, in native units. With ``low``, ``high`` the 0.5th and 99.5th
  percentiles of all truth voxels and ``span = high - low``: MSE and MAE of the hole voxels in
  native units; PSNR = 10·log10(span² / MSE); SSIM = the map above on the unmasked, unclipped
  volumes scaled by ``(x - low) / span``, with a fixed data range of 1, averaged over the hole.
  The known voxels around the hole are real context for the SSIM windows, unlike in ``brats``.

A perfect fill has PSNR ``inf``. The voxel grids (shape, affine) are checked by
:func:`score_files`; :func:`score_volumes` works on arrays.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import torch
from monai.utils import look_up_option

from medinpaint.errors import MedinpaintError
from medinpaint.io.nifti import read_nifti

__all__ = ["PROTOCOLS", "hole_ssim", "protocol_name", "score_volumes", "score_files"]

PROTOCOLS = ("brats", "hole")
PERCENTILES = (0.5, 99.5)
SSIM_PAD = 5  # half of torchmetrics' 11×11 Gaussian window (σ = 1.5); reflection padding needs a larger axis
AFFINE_TOLERANCE = 1e-4


def protocol_name(protocol: str) -> str:
    """``protocol`` checked against :data:`PROTOCOLS`, with a did-you-mean hint.

    Example:
        >>> protocol_name("brats")
        'brats'
    """
    try:
        return look_up_option(protocol, PROTOCOLS)
    except ValueError as err:
        guess = re.search(r"did you mean '(\w+)'", str(err))
        hint = f"did you mean {guess.group(1)!r}? " if guess else ""
        raise MedinpaintError(f"unknown protocol {protocol!r}: {hint}use one of {', '.join(PROTOCOLS)}") from None


def hole_ssim(prediction: torch.Tensor, truth: torch.Tensor, hole: torch.Tensor, data_range: float | None = None) -> torch.Tensor:
    """Per item of a batch (N, C, H, W): the mean over ``hole`` of torchmetrics' SSIM map, float64, differentiable.

    The SSIM both protocols score (on ``[1, X, Y, Z]``) and the fill network's SSIM loss term
    (:func:`medinpaint.training.fill.hole_ssim_loss`, on windows) both come from here.

    Example:
        >>> image = torch.rand(2, 1, 16, 16)
        >>> hole = torch.zeros_like(image); hole[..., 4:12, 4:12] = 1
        >>> [round(v, 6) for v in hole_ssim(image, image, hole, 1.0).tolist()]
        [1.0, 1.0]
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    _, ssim_map = structural_similarity_index_measure(prediction, truth, data_range=data_range, return_full_image=True)
    dims = tuple(range(1, ssim_map.ndim))
    return (ssim_map.double() * hole).sum(dim=dims) / hole.sum(dim=dims).clamp_min(1)


def _hole_ssim(prediction: np.ndarray, truth: np.ndarray, hole: np.ndarray, data_range: float | None) -> float:
    """:func:`hole_ssim` of the ``[1, X, Y, Z]`` float32 tensors of two volumes, as the challenge passes them."""
    preds, target = (torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))[None] for v in (prediction, truth))
    return float(hole_ssim(preds, target, torch.from_numpy(np.asarray(hole, bool))[None], data_range)[0])


def _psnr(data_range: float, mse: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(10 * np.log10(np.float64(data_range) ** 2 / np.float64(mse)))


def _hole_errors(prediction_hole: np.ndarray, truth_hole: np.ndarray) -> dict[str, float]:
    error = prediction_hole.astype(np.float64) - truth_hole.astype(np.float64)
    return {"mse": float(np.mean(error**2)), "mae": float(np.mean(np.abs(error)))}


def _percentiles(volume: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(volume.astype(np.float64), PERCENTILES)
    return float(low), float(high)


def _brats(prediction: np.ndarray, truth: np.ndarray, voided: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    low, high = _percentiles(voided)
    low = max(low, 0.0)
    if not high > low:
        raise MedinpaintError(
            f"the voided image has no intensity range for the brats normalisation (0.5/99.5 percentiles, low raised "
            f"to 0: {low:g}..{high:g}): pass the image the method was given, with its tissue"
        )

    def normalise(volume: np.ndarray) -> np.ndarray:
        return ((np.clip(volume * hole, low, high) - low) / (high - low)).astype(np.float32)

    pred_n, truth_n = normalise(prediction), normalise(truth)
    pred_hole, truth_hole = pred_n[hole].astype(np.float64), truth_n[hole].astype(np.float64)
    t_min, t_max = truth_hole.min(), truth_hole.max()
    clamped_mse = np.mean((np.clip(pred_hole, t_min, t_max) - truth_hole) ** 2)
    return {
        "ssim": _hole_ssim(pred_n, truth_n, hole, data_range=None),
        "psnr": _psnr(t_max - t_min, clamped_mse),
        **_hole_errors(pred_hole, truth_hole),
    }


def _native_hole(prediction: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    low, high = _percentiles(truth)
    span = high - low
    if not span > 0:
        raise MedinpaintError(
            f"the truth volume has no intensity range (0.5 and 99.5 percentiles both {low:g}): "
            "the hole protocol needs a truth with tissue contrast"
        )
    errors = _hole_errors(prediction[hole], truth[hole])
    return {
        "ssim": _hole_ssim((prediction - low) / span, (truth - low) / span, hole, data_range=1.0),
        "psnr": _psnr(span, errors["mse"]),
        **errors,
    }


def _check_volumes(volumes: dict[str, np.ndarray]) -> None:
    shapes = {role: volume.shape for role, volume in volumes.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{role} {shape}" for role, shape in shapes.items())
        raise MedinpaintError(f"shapes differ ({listed}): give volumes on one voxel grid")
    shape = shapes["truth"]
    if len(shape) != 3 or min(shape[1:], default=0) <= SSIM_PAD:
        raise MedinpaintError(
            f"volumes of shape {shape} cannot be scored: give 3-D volumes with more than {SSIM_PAD} voxels "
            "along axes 1 and 2 (the 11×11 SSIM window)"
        )
    for role, volume in volumes.items():
        bad = ~np.isfinite(volume)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise MedinpaintError(
                f"{role} holds {int(bad.sum())} non-finite voxel(s) (NaN/inf), first at voxel {first}: replace them"
            )
    if not np.any(volumes["hole"]):
        raise MedinpaintError("the hole mask is empty (all zero): nonzero voxels must mark the hole to score")


def _inputs_by_role(protocol: str, prediction, truth, voided, hole: tuple[str, object]) -> tuple[str, dict]:
    """The checked protocol name and ``{role: input}``, with ``voided`` only (and then required) for brats."""
    protocol = protocol_name(protocol)
    inputs = {"prediction": prediction, "truth": truth, hole[0]: hole[1]}
    if protocol == "brats":
        if voided is None:
            raise MedinpaintError(
                "protocol brats normalises by the voided input: pass the image the method was given (--voided)"
            )
        inputs["voided"] = voided
    return protocol, inputs


def score_volumes(
    prediction: np.ndarray,
    truth: np.ndarray,
    voided: np.ndarray | None,
    hole: np.ndarray,
    protocol: str = "brats",
) -> dict[str, float]:
    """Score the hole of an inpainted volume (see the module docstring for both protocols).

    Args:
        prediction: the inpainted volume (X, Y, Z).
        truth: the true volume (X, Y, Z).
        voided: the image the method was given (X, Y, Z); needed by ``brats``, unused by ``hole``.
        hole: (X, Y, Z), nonzero = hole voxel (the region that was filled), as in mask files.
        protocol: ``"brats"`` (BraTS-Inpainting 2023, normalised to [0, 1]) or ``"hole"`` (native units).

    Returns:
        ``{"ssim", "psnr" (dB), "mse", "mae"}`` as floats.

    Raises:
        MedinpaintError: unknown protocol, shapes that differ, volumes too small for the SSIM
            window, NaN/inf voxels (how many and the first), an empty hole, no ``voided`` for
            ``brats``, or no intensity range to normalise by.

    Example:
        >>> truth = np.tile(np.arange(16.0), (8, 16, 1))
        >>> hole = np.zeros(truth.shape, bool); hole[2:6, 4:12, 4:12] = True
        >>> prediction = np.where(hole, truth + 1, truth)
        >>> scores = score_volumes(prediction, truth, None, hole, protocol="hole")
        >>> scores["mae"], scores["mse"], round(scores["psnr"], 3)  # span 15 - 0: 20·log10(15 / 1)
        (1.0, 1.0, 23.522)
    """
    protocol, volumes = _inputs_by_role(protocol, prediction, truth, voided, ("hole", hole))
    volumes = {role: np.asarray(volume) for role, volume in volumes.items()}
    _check_volumes(volumes)
    hole_voxels = volumes.pop("hole") != 0
    if protocol == "brats":
        return _brats(volumes["prediction"], volumes["truth"], volumes["voided"], hole_voxels)
    return _native_hole(volumes["prediction"], volumes["truth"], hole_voxels)


def score_files(
    prediction: str | Path,
    truth: str | Path,
    voided: str | Path | None,
    mask: str | Path,
    protocol: str = "brats",
) -> dict[str, float]:
    """Score NIfTI files: :func:`score_volumes` after checking that they exist and share one grid.

    Args:
        prediction: the inpainted volume (.nii/.nii.gz).
        truth: the true volume.
        voided: the image the method was given (``brats`` only; ignored by ``hole``).
        mask: hole mask file, nonzero = hole (the mask-file convention).
        protocol: ``"brats"`` or ``"hole"``.

    Returns:
        ``{"ssim", "psnr", "mse", "mae"}``.

    Raises:
        MedinpaintError: a missing or unreadable file, a 4-D file with several volumes, shapes or
            affines that differ (both files named), NaN/inf voxels, an empty mask, an unknown protocol.
    """
    protocol, roles = _inputs_by_role(protocol, prediction, truth, voided, ("mask", mask))
    loaded = {}
    for role, path in roles.items():
        path = Path(path)
        if not path.is_file():
            raise MedinpaintError(f"{role} file {path} not found: give the path of an existing .nii/.nii.gz")
        volume, source = read_nifti(path)
        if math.prod(source.shape) != volume.size:
            raise MedinpaintError(f"{role} {path.name} holds several volumes {source.shape}: give one 3-D volume")
        loaded[role] = volume, source
    _, reference = loaded["truth"]
    for role, (_, source) in loaded.items():
        if source.shape != reference.shape:
            raise MedinpaintError(
                f"shapes differ: {role} {source.path} is {source.shape} but truth {reference.path} is {reference.shape}: "
                "resample onto the truth's grid"
            )
        offset = float(np.abs(source.affine - reference.affine).max())
        if offset > AFFINE_TOLERANCE:
            raise MedinpaintError(
                f"affines differ: {role} {source.path} and truth {reference.path} are on different voxel grids "
                f"(largest affine difference {offset:g}): resample onto the truth's grid"
            )
    volume = {role: data for role, (data, _) in loaded.items()}
    return score_volumes(volume["prediction"], volume["truth"], volume.get("voided"), volume["mask"], protocol)
