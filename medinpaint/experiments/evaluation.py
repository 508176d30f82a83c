"""Evaluation harness: medinpaint and the classical baselines on the very same images and masks.

Protocol (every row says it; see :mod:`medinpaint.experiments.results` for the row layout):

* corrupted input ``y = truth · known`` (missing pixels zeroed; no method reads them);
* ``medinpaint``: latent search + exact Poisson blend (output ``blended``) and G(ẑ) itself
  (output ``raw``); optional extra blends (e.g. the reference implementation's ``sobel-adam``) are extra methods
  ``medinpaint-<blend>`` on the same ẑ (no second search);
* baselines (biharmonic, telea, navier-stokes) on the same ``y`` and mask, output ``blended``
  (known pixels kept);
* full-reference metrics PSNR and SSIM (data range 2, :mod:`medinpaint.metrics.regression`) over
  ``whole`` and ``hole``; no-reference NIQE (over the whole image, fitted on the domain's clean
  training images) and NRQM (``unavailable`` unless a model file is given), plus the same
  no-reference scores of the truth (method ``truth``, output ``original``) for reference;
* ``seconds`` per image for each method (wall time of its batch / number of images).

Rows are means over the images of a group (``labels``: one dict per image, e.g. the mask kind),
with the standard deviation and the number of images. An image that some method fills exactly
(infinite PSNR, e.g. a hole on background) is left out of EVERY method's PSNR mean, so that the
PSNR means compare the methods on the same images; the row's note counts the images left out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from medinpaint.baselines import BASELINES, inpaint_baseline
from medinpaint.errors import MedinpaintError
from medinpaint.inpainting import SearchConfig, inpaint_grid
from medinpaint.inpainting.blend import blend
from medinpaint.masks import make_mask
from medinpaint.metrics.niqe import NiqeModel, niqe
from medinpaint.metrics.nrqm import NrqmMetric
from medinpaint.metrics.regression import masked_psnr, masked_ssim

__all__ = ["METHOD", "Evaluation", "corrupt_batch", "evaluate_inpainting", "best_baseline"]

METHOD = "medinpaint"


@dataclass(frozen=True)
class Evaluation:
    """Everything one evaluation produced.

    Attributes:
        truth: the clean images (N, C, H, W).
        known: the masks (N, 1, H, W), 1 = known.
        corrupted: the input every method saw, ``truth · known`` (N, C, H, W).
        outputs: ``{(method, output): images (N, C, H, W)}``.
        rows: metric rows (means over each label group).
        labels: the per-image group labels used.
        iterations: latent-search iterations used per image (N,).
    """

    truth: torch.Tensor
    known: torch.Tensor
    corrupted: torch.Tensor
    outputs: dict[tuple[str, str], torch.Tensor]
    rows: list[dict]
    labels: list[dict]
    iterations: torch.Tensor


def corrupt_batch(
    images: torch.Tensor,
    mask_specs: Mapping[Any, str],
    *,
    seed: int,
    key: str = "mask",
) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """Pair every image with every mask kind, one independent mask draw per pair.

    Args:
        images: clean images (N, C, H, W).
        mask_specs: ``{label: mask spec}`` (see :func:`medinpaint.masks.make_mask`), in the order wanted.
        seed: seed of the one ``torch.Generator`` that draws every mask (kind by kind, image by image).
        key: label key naming the mask kind in the rows (e.g. ``"rate"`` for the dropout sweep).

    Returns:
        ``(truth, known, labels)``: (K·N, C, H, W), (K·N, 1, H, W) and K·N dicts ``{key: label}``.

    Example:
        >>> images = torch.zeros(2, 1, 8, 8)
        >>> truth, known, labels = corrupt_batch(images, {"a": "box:2"}, seed=0)
        >>> truth.shape, known.shape, labels
        (torch.Size([2, 1, 8, 8]), torch.Size([2, 1, 8, 8]), [{'mask': 'a'}, {'mask': 'a'}])
    """
    generator = torch.Generator().manual_seed(seed)
    size = images.shape[-1]
    known = [make_mask(spec, generator=generator, size=size).float() for spec in mask_specs.values() for _ in range(images.shape[0])]
    labels = [{key: label} for label in mask_specs for _ in range(images.shape[0])]
    truth = images.float().repeat(len(mask_specs), 1, 1, 1)
    return truth, torch.stack(known), labels


def _per_image_reference(outputs: torch.Tensor, truth: torch.Tensor, known: torch.Tensor) -> dict:
    """{(region, metric): (N,) numpy} for PSNR and SSIM over whole and hole."""
    scores = {}
    for region in ("whole", "hole"):
        scores[(region, "psnr")] = masked_psnr(outputs, truth, known, region)[:, 0].numpy()
        scores[(region, "ssim")] = masked_ssim(outputs, truth, known, region)[:, 0].numpy()
    return scores


def _same_images_psnr(references: dict) -> dict:
    """Every method's PSNR set to NaN (skipped in the means) on the images where ANY method's PSNR
    is infinite (an exact fill, e.g. a hole on background), so that every PSNR mean is over the same
    images; ``references``: {(method, output): {(region, metric): (N,) array}}.

    Example:
        >>> exact = {("hole", "psnr"): np.array([np.inf, 20.0])}
        >>> paired = _same_images_psnr({("a", "blended"): exact, ("b", "blended"): {("hole", "psnr"): np.array([30.0, 25.0])}})
        >>> paired[("b", "blended")][("hole", "psnr")].tolist()
        [nan, 25.0]
    """
    psnr_keys = {key for scores in references.values() for key in scores if key[1] == "psnr"}
    for key in psnr_keys:
        exact = np.any([np.isposinf(scores[key]) for scores in references.values()], axis=0)
        for scores in references.values():
            scores[key] = np.where(exact, np.nan, scores[key])
    return references


def _niqe_or_nan(image: torch.Tensor, model: NiqeModel) -> float:
    """NIQE, or NaN where it is undefined (an image without a textured block)."""
    try:
        return niqe(image, model)
    except MedinpaintError:
        return math.nan


def _per_image_niqe(images: torch.Tensor, model: NiqeModel) -> np.ndarray:
    return np.array([_niqe_or_nan(image, model) for image in images])


def _per_image_nrqm(images: torch.Tensor, metric: NrqmMetric) -> np.ndarray | None:
    """Per-image NRQM, or None when no model file was given (the rows then say why)."""
    return np.array([metric(image) for image in images]) if metric.available else None


def _group_rows(labels: Sequence[dict], method: str, output: str, scores: dict, notes: dict) -> list[dict]:
    """Average per-image scores ``{(region, metric): (N,) array or None}`` within each label group.

    ``None`` scores become rows with value None and the reason from ``notes``; non-finite values
    (NaN: no hole, an undefined NIQE, or a PSNR that some method scores infinite on that image,
    :func:`_same_images_psnr`) are skipped and counted in the note.
    """
    groups: dict[tuple, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(tuple(label.items()), []).append(index)
    rows = []
    for group, indices in groups.items():
        for (region, metric), values in scores.items():
            row = dict(group) | {"method": method, "output": output, "region": region, "metric": metric}
            if values is None:
                rows.append(row | {"value": None, "std": None, "n_images": len(indices), "note": notes[(region, metric)]})
                continue
            chosen = np.asarray(values, dtype=np.float64)[indices]
            finite = chosen[np.isfinite(chosen)]
            skipped = len(chosen) - len(finite)
            rows.append(
                row
                | {
                    "value": float(finite.mean()) if len(finite) else math.nan,
                    "std": float(finite.std()) if len(finite) else math.nan,
                    "n_images": len(indices),
                    "note": f"{skipped} of {len(chosen)} image(s) without a finite value skipped" if skipped else "",
                }
            )
    return rows


def evaluate_inpainting(
    truth: torch.Tensor,
    known: torch.Tensor,
    generator: nn.Module,
    discriminator: nn.Module,
    search: SearchConfig = SearchConfig(),
    *,
    labels: Sequence[dict] | None = None,
    baselines: Sequence[str] = BASELINES,
    extra_blends: Sequence[str] = (),
    niqe_model: NiqeModel | None = None,
    nrqm_model: Path | None = None,
    progress: bool = False,
) -> Evaluation:
    """Run medinpaint and the baselines on the same corrupted images and score every output.

    Args:
        truth: clean images (N, C, 64, 64) in [-1, 1].
        known: masks (N, 1, 64, 64), 1 = known, 0 = missing (an image missing nothing has no
            hole score: NaN, skipped in the means).
        generator: the domain's G.
        discriminator: the domain's D (logits).
        search: latent-search settings.
        labels: one dict per image naming its group (e.g. ``{"mask": "half:left"}``); rows are
            averaged per group. Default: one group.
        baselines: baseline names (``medinpaint.baselines.BASELINES``).
        extra_blends: more blend methods on the same ẑ (e.g. ``("sobel-adam",)``).
        niqe_model: pristine NIQE model of the domain; None → no NIQE rows.
        nrqm_model: NRQM model file; None → NRQM rows with value None and an ``unavailable`` note.
        progress: show the search's progress bar.

    Returns:
        :class:`Evaluation`.

    Raises:
        MedinpaintError: labels do not match the images, a mask covers a whole image, a missing
            NRQM model file, or G's channels differ from the images'.

    Example:
        >>> from medinpaint.networks import Discriminator, Generator
        >>> _ = torch.manual_seed(0)
        >>> truth = torch.rand(2, 1, 64, 64) * 2 - 1
        >>> known = torch.ones(2, 1, 64, 64); known[..., 24:40, 24:40] = 0
        >>> result = evaluate_inpainting(truth, known, Generator(nz=8, ngf=4, nc=1),
        ...     Discriminator(ndf=4, nc=1), SearchConfig(iterations=2), baselines=("biharmonic",))
        >>> sorted({(r["method"], r["output"]) for r in result.rows if r["metric"] == "psnr"})
        [('biharmonic', 'blended'), ('medinpaint', 'blended'), ('medinpaint', 'raw')]
    """
    truth, known = truth.float().cpu(), known.float().cpu()
    labels = [{}] * truth.shape[0] if labels is None else list(labels)
    if len(labels) != truth.shape[0]:
        raise MedinpaintError(f"{len(labels)} labels for {truth.shape[0]} images: give one label dict per image")
    corrupted = truth * known
    nrqm_metric = NrqmMetric(nrqm_model)  # a bad model path fails before the search

    started = time.perf_counter()
    device = next(generator.parameters()).device
    found = inpaint_grid(
        corrupted.to(device), known.to(device), generator, discriminator, search, blend="poisson", progress=progress
    )
    outputs = {(METHOD, "blended"): found.blended.float().cpu(), (METHOD, "raw"): found.raw.float().cpu()}
    seconds = {METHOD: time.perf_counter() - started}
    for blend_method in extra_blends:
        started = time.perf_counter()
        outputs[(f"{METHOD}-{blend_method}", "blended")] = blend(outputs[(METHOD, "raw")], corrupted, known, blend_method)
        seconds[f"{METHOD}-{blend_method}"] = seconds[METHOD] + time.perf_counter() - started
    for name in baselines:
        started = time.perf_counter()
        outputs[(name, "blended")] = inpaint_baseline(name, corrupted, known).float().cpu()
        seconds[name] = time.perf_counter() - started

    count = truth.shape[0]
    notes = {("whole", "nrqm"): nrqm_metric.reason}
    references = _same_images_psnr({key: _per_image_reference(images, truth, known) for key, images in outputs.items()})
    rows: list[dict] = []
    for (method, output), images in outputs.items():
        scores = references[(method, output)]
        if niqe_model is not None:
            scores[("whole", "niqe")] = _per_image_niqe(images, niqe_model)
        scores[("whole", "nrqm")] = _per_image_nrqm(images, nrqm_metric)
        if output == "blended":
            scores[("whole", "seconds")] = np.full(count, seconds[method] / count)
        rows += _group_rows(labels, method, output, scores, notes)
    reference: dict = {}
    if niqe_model is not None:
        reference[("whole", "niqe")] = _per_image_niqe(truth, niqe_model)
    reference[("whole", "nrqm")] = _per_image_nrqm(truth, nrqm_metric)
    rows += _group_rows(labels, "truth", "original", reference, notes)
    return Evaluation(truth, known, corrupted, outputs, rows, labels, iterations=found.iterations.cpu())


def best_baseline(rows: Sequence[dict], group: dict, baselines: Sequence[str] = BASELINES) -> str:
    """The baseline with the highest hole PSNR (blended output) within ``group``.

    Example:
        >>> rows = [{"mask": "a", "method": m, "output": "blended", "region": "hole", "metric": "psnr",
        ...          "value": v} for m, v in (("telea", 20.0), ("biharmonic", 22.0))]
        >>> best_baseline(rows, {"mask": "a"})
        'biharmonic'
    """
    candidates = [
        row
        for row in rows
        if row["method"] in baselines
        and (row["output"], row["region"], row["metric"]) == ("blended", "hole", "psnr")
        and all(row.get(key) == value for key, value in group.items())
    ]
    return max(candidates, key=lambda row: row["value"])["method"]
