"""Image-quality metrics for inpainting results.

- :mod:`.regression`: PSNR and SSIM over the whole image or the hole, as MONAI cumulative metrics;
- :mod:`.niqe`: NIQE with a pristine model fitted on the domain's clean training images;
- :mod:`.nrqm`: NRQM (Ma et al. 2017) from a user-supplied model file, else "unavailable";

The rows that carry each number's protocol (method, output, region, metric) are written by
:mod:`medinpaint.experiments.evaluation` (experiments) and :mod:`.scoring` (``medinpaint score``).

Protocols are written out in ``docs/metrics.md``.
"""

from medinpaint.metrics.forest import RegressionForest
from medinpaint.metrics.niqe import NiqeModel, fit_niqe, niqe
from medinpaint.metrics.nrqm import NrqmMetric, NrqmModel, nrqm
from medinpaint.metrics.nrqm_features import nrqm_features
from medinpaint.metrics.regression import REGIONS, InpaintingPSNRMetric, InpaintingSSIMMetric, masked_psnr, masked_ssim

__all__ = [
    "REGIONS",
    "InpaintingPSNRMetric",
    "InpaintingSSIMMetric",
    "masked_psnr",
    "masked_ssim",
    "NiqeModel",
    "fit_niqe",
    "niqe",
    "NrqmModel",
    "NrqmMetric",
    "nrqm",
    "nrqm_features",
    "RegressionForest",
]
