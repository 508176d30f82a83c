"""One table of scores where every number carries its protocol.

:func:`evaluate` scores several methods' outputs against the same ground truth and mask and
returns flat rows ``{method, output, region, metric, value, n, note}``:

- ``output``: ``"blended"`` (known pixels are the input's: medinpaint after Poisson blending, and
  every classical baseline) or ``"raw"`` (medinpaint's G(ẑ) before blending). What is evaluated is
  the caller's choice; the row records it.
- ``region``: ``"whole"`` or ``"hole"`` for PSNR/SSIM (:mod:`.regression`); no-reference metrics
  (NIQE, NRQM) score the whole image and say ``"whole"``.
- ``value``: mean over the images that have a score (``n`` of them); NaN when none has.
- ``note``: empty, or why the value is missing (e.g. NRQM without a model file).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from medinpaint.errors import MedinpaintError
from medinpaint.metrics.niqe import NiqeModel, niqe
from medinpaint.metrics.nrqm import NrqmMetric
from medinpaint.metrics.regression import REGIONS, InpaintingPSNRMetric, InpaintingSSIMMetric

__all__ = ["OUTPUT_KINDS", "evaluate"]

OUTPUT_KINDS = ("blended", "raw")


def _row(method: str, output: str, region: str, metric: str, values: Sequence[float], note: str = "") -> dict:
    finite = [v for v in values if not math.isnan(v)]
    value = float(np.mean(finite)) if finite else math.nan
    return {
        "method": method,
        "output": output,
        "region": region,
        "metric": metric,
        "value": value,
        "n": len(finite),
        "note": note,
    }


def _split_key(key: str | tuple[str, str], default_output: str) -> tuple[str, str]:
    method, output = (key, default_output) if isinstance(key, str) else key
    if output not in OUTPUT_KINDS:
        raise MedinpaintError(f"output kind {output!r} for {method!r} is not one of {OUTPUT_KINDS}")
    return method, output


def evaluate(
    truth: torch.Tensor,
    known: torch.Tensor,
    outputs: Mapping[str | tuple[str, str], torch.Tensor],
    output: str = "blended",
    regions: Sequence[str] = REGIONS,
    niqe_model: NiqeModel | None = None,
    nrqm_metric: NrqmMetric | None = None,
) -> list[dict]:
    """Score each method's output with PSNR and SSIM (and NIQE/NRQM when asked).

    Args:
        truth: ground truth (N, C, H, W) in [-1, 1].
        known: (N, 1, H, W), 1 = known, 0 = missing.
        outputs: method name → output (N, C, H, W); a key may be ``(method, output_kind)`` to
            give the kind per entry, e.g. ``{("medinpaint", "raw"): g_z, ("medinpaint", "blended"): y}``.
        output: output kind for plain string keys: ``"blended"`` or ``"raw"``.
        regions: PSNR/SSIM regions to report.
        niqe_model: add NIQE rows scored against this pristine model.
        nrqm_metric: add NRQM rows (NaN with the reason in ``note`` when it has no model).

    Returns:
        List of row dicts, one per (method, output, region, metric).

    Raises:
        MedinpaintError: shape mismatch, unknown region or output kind.

    Example:
        >>> truth = torch.zeros(2, 1, 16, 16); known = torch.ones(2, 1, 16, 16); known[..., 4:8, 4:8] = 0
        >>> rows = evaluate(truth, known, {"flat": truth + 0.2 * (1 - known)}, regions=("hole",))
        >>> [(r["method"], r["output"], r["region"], r["metric"], round(r["value"], 2)) for r in rows]
        [('flat', 'blended', 'hole', 'psnr', 20.0), ('flat', 'blended', 'hole', 'ssim', 0.02)]
    """
    rows = []
    for key, images in outputs.items():
        method, kind = _split_key(key, output)
        for region in regions:
            for metric_name, metric in (("psnr", InpaintingPSNRMetric(region)), ("ssim", InpaintingSSIMMetric(region))):
                values = metric(y_pred=images, y=truth, mask=known).flatten().tolist()
                rows.append(_row(method, kind, region, metric_name, values))
        if niqe_model is not None:
            rows.append(_row(method, kind, "whole", "niqe", [niqe(image, niqe_model) for image in images]))
        if nrqm_metric is not None:
            scores = [nrqm_metric(image) for image in images]
            rows.append(_row(method, kind, "whole", "nrqm", scores, nrqm_metric.reason))
    return rows
