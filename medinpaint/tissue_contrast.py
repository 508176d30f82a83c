"""Tissue contrast: map an MR input's tissue classes onto those the fill network learned.

The brain models learned one T1 contrast, the embedded MNI152 template's: on its [-1, 1] scale
its three tissue classes (CSF with partial volume, grey matter, white matter) sit at fixed
values. A real scan's classes sit elsewhere on that scale, however it is scaled linearly (a real
T1 crop: CSF 0.48 and grey matter 0.79 of white matter, against 0.53 and 0.80 in the template),
and the network then corrects a contrast it never saw. Before a network fill, the input's own
class means (k-means of its known tissue voxels: :func:`tissue_voxels`, :func:`tissue_class_means`)
are mapped onto the template's by a piecewise-linear map through 0 (no MR signal) and the three means
(:class:`TissueIntensityToUnit`); the fill is mapped back by its inverse. Known voxels are never
mapped: they are copied from the input.

Only models trained on the embedded template know their classes (:func:`reference_classes`);
other models keep the percentile scale.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import torch
from monai.config import NdarrayOrTensor
from monai.utils import convert_to_tensor
from scipy import ndimage
from scipy.cluster.vq import ClusterError, kmeans2

from medinpaint.data.sample import sample_volume
from medinpaint.normalisation import Normalisation
from medinpaint.transforms.array import IntensityToUnit

if TYPE_CHECKING:
    from medinpaint.checkpoint import LoadedModels

__all__ = ["TissueIntensityToUnit", "piecewise_linear", "reference_classes", "template_class_means", "tissue_class_means", "tissue_intensity", "tissue_voxels"]

TISSUE_SHARE = 0.1  # known voxels above this share of their 99.5th percentile are tissue (not background)
MIN_TISSUE_VOXELS = 1000
MAX_SAMPLES = 400_000  # k-means reads at most this many voxels (an even stride through them)


def tissue_class_means(tissue: NdarrayOrTensor) -> np.ndarray | None:
    """The means of three intensity classes (dark, middle, bright: CSF, grey and white matter in a
    T1) of ``tissue`` values (:func:`tissue_voxels`), ascending; None when there are fewer than
    :data:`MIN_TISSUE_VOXELS` or the classes do not separate. 1-D k-means started at their 10th,
    50th and 90th percentiles (deterministic), on at most :data:`MAX_SAMPLES` of them.

    Example:
        >>> values = np.concatenate([np.full(600, 30.0), np.full(900, 60.0), np.full(1500, 90.0)])
        >>> tissue_class_means(values).round(1).tolist()
        [30.0, 60.0, 90.0]
        >>> tissue_class_means(np.full(5000, 7.0)) is None
        True
    """
    tissue = np.asarray(convert_to_tensor(tissue, track_meta=False).detach().cpu().numpy(), np.float64).ravel()
    if tissue.size < MIN_TISSUE_VOXELS:
        return None
    tissue = tissue[:: max(1, tissue.size // MAX_SAMPLES)]
    start = np.percentile(tissue, [10, 50, 90])[:, None]
    try:
        centres, _ = kmeans2(tissue[:, None], start, minit="matrix", iter=50, missing="raise")
    except ClusterError:  # a class lost all its voxels: fewer than three levels
        return None
    means = np.sort(centres[:, 0])
    if not (0 < means[0] < means[1] < means[2]):
        return None
    return means


class TissueIntensityToUnit(IntensityToUnit):
    """A piecewise-linear native -> [-1, 1] map through landmarks: native 0 -> -1, and each of the
    input's class means -> the model's value for that class; linear beyond the last landmarks
    (the slope of the nearest segment), clipped to [-1, 1]. ``inverse`` undoes it.

    ``low`` and ``high`` are the native values mapped to -1 and +1.

    Args:
        native: the input's class means, ascending, > 0.
        unit: the model's values for the classes, ascending, in (-1, 1).
        clip: clip the result to [-1, 1].

    Example:
        >>> t = TissueIntensityToUnit([100.0, 200.0, 300.0], [-0.2, 0.4, 0.8])
        >>> t(torch.tensor([[[0.0, 100.0, 250.0, 350.0]]])).tolist()
        [[[-1.0, -0.20000000298023224, 0.6000000238418579, 1.0]]]
        >>> round(t.high, 3), t.inverse(torch.tensor([[[0.6]]])).tolist()
        (350.0, [[[250.0]]])
        >>> t.native_scale(torch.tensor([-0.5, 0.7])).tolist()  # native units per unit step: 100 / 0.8, 100 / 0.4
        [125.0, 250.0]
    """

    def __init__(self, native, unit, clip: bool = True) -> None:
        self.native_points = np.r_[0.0, np.asarray(native, np.float64)]
        self.unit_points = np.r_[-1.0, np.asarray(unit, np.float64)]
        if not (np.all(np.diff(self.native_points) > 0) and np.all(np.diff(self.unit_points) > 0)):
            raise ValueError(f"landmarks must ascend from (0, -1): native {self.native_points}, unit {self.unit_points}")
        self.slopes = np.diff(self.unit_points) / np.diff(self.native_points)
        high = self.native_points[-1] + (1.0 - self.unit_points[-1]) / self.slopes[-1]
        super().__init__(0.0, float(high), clip)

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Map native values to [-1, 1] through the landmarks."""
        x = convert_to_tensor(img, track_meta=False)
        unit = _piecewise(x, self.native_points, self.unit_points)
        return unit.clamp(-1.0, 1.0) if self.clip else unit

    def inverse(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Map values in [-1, 1] back to native units."""
        y = convert_to_tensor(img, track_meta=False)
        return _piecewise(y, self.unit_points, self.native_points)

    def native_scale(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Native units per unit step at each value in [-1, 1]: the inverse's slope on its segment."""
        y = convert_to_tensor(img, track_meta=False)
        segment = np.clip(np.searchsorted(self.unit_points, y.detach().cpu().double().numpy()) - 1, 0, len(self.slopes) - 1)
        return torch.as_tensor(1.0 / self.slopes[segment], dtype=y.dtype, device=y.device)

    @property
    def classes(self) -> tuple[float, float, float]:
        """The input's class means (native units) that the map sends onto the model's."""
        return tuple(float(v) for v in self.native_points[1:])


def piecewise_linear(values: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp`` through the landmarks ``(xp, fp)`` (both ascending), continued beyond them along
    the first and the last segment instead of clamped; float64.

    Example:
        >>> piecewise_linear(np.array([-1.0, 0.5, 3.0]), np.array([0.0, 1.0, 2.0]), np.array([0.0, 10.0, 30.0])).tolist()
        [-10.0, 5.0, 50.0]
    """
    values, xp, fp = np.asarray(values, np.float64), np.asarray(xp, np.float64), np.asarray(fp, np.float64)
    mapped = np.interp(values, xp, fp)
    mapped = np.where(values < xp[0], fp[0] + (values - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0]), mapped)
    return np.where(values > xp[-1], fp[-1] + (values - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2]), mapped)


def _piecewise(x: torch.Tensor, xp: np.ndarray, fp: np.ndarray) -> torch.Tensor:
    """:func:`piecewise_linear` of a tensor, in its dtype (float32 for an integer one) and on its device."""
    mapped = piecewise_linear(x.detach().cpu().double().numpy(), xp, fp)
    return torch.as_tensor(mapped, dtype=x.dtype if x.dtype.is_floating_point else torch.float32, device=x.device)


@lru_cache(maxsize=1)
def template_class_means() -> np.ndarray:
    """The embedded template's three tissue class means (its own units), computed once.

    Example:
        >>> template_class_means().round(1).tolist()
        [112.0, 168.6, 211.9]
    """
    volume, _ = sample_volume()
    return tissue_class_means(tissue_voxels(volume, np.ones(volume.shape, bool)))


@lru_cache(maxsize=4)
def _template_classes(normalisation: Normalisation) -> tuple[float, ...]:
    volume, _ = sample_volume()
    intensity = normalisation.intensity_for(volume)
    return tuple(float(v) for v in intensity(torch.from_numpy(template_class_means())).tolist())


def reference_classes(models: LoadedModels) -> tuple[float, ...] | None:
    """The values on [-1, 1] of the tissue classes the model's networks learned: those of the
    embedded template, as the model's own normalisation maps them, for an MR model trained on it,
    else None.

    Example:
        >>> from medinpaint.checkpoint import load_models
        >>> [round(v, 2) for v in reference_classes(load_models(device="cpu"))]
        [-0.02, 0.48, 0.86]
    """
    if models.domain != "mri" or models.config.data != "embedded":
        return None
    return _template_classes(models.normalisation)


def tissue_voxels(image: NdarrayOrTensor, known: NdarrayOrTensor) -> np.ndarray:
    """The values of the known tissue voxels of ``image``: above :data:`TISSUE_SHARE` of the known
    voxels' 99.5th percentile, the mask opened twice by a cross (along the axes longer than 2) so
    that the isolated background voxels that noise lifts above the threshold do not count.

    Args:
        image: any array of voxels (slices, a volume, channels first or not).
        known: its mask (broadcast to ``image``), nonzero = known.

    Example:
        >>> image = np.zeros((20, 20)); image[5:15, 5:15] = 100.0; image[0, 0] = 90.0  # a lone bright voxel
        >>> values = tissue_voxels(image, np.ones_like(image))
        >>> bool((values == 90.0).any()), values.size  # the lone voxel is gone (and the square's corners)
        (False, 88)
    """
    values = np.asarray(convert_to_tensor(image, track_meta=False).detach().cpu().float().numpy())
    known = np.broadcast_to(np.asarray(convert_to_tensor(known, track_meta=False).detach().cpu().numpy()) != 0, values.shape)
    known = known & np.isfinite(values)
    if not known.any():
        return np.zeros(0, np.float32)
    tissue = known & (values > TISSUE_SHARE * np.percentile(values[known], 99.5))
    cross = ndimage.generate_binary_structure(values.ndim, 1)
    cross = cross[tuple(slice(None) if n > 2 else slice(1, 2) for n in values.shape)]
    return values[ndimage.binary_opening(tissue, structure=cross, iterations=2)]


def tissue_intensity(
    models: LoadedModels, image: NdarrayOrTensor, known: NdarrayOrTensor, intensity: IntensityToUnit
) -> IntensityToUnit:
    """The map a network fill of ``image`` should use: ``intensity`` (its percentile scale), or for
    a model that knows its tissue classes (:func:`reference_classes`), the map that sends the class
    means of the input's known tissue (:func:`tissue_voxels`) onto them. Falls back to
    ``intensity`` when the input's classes do not separate.

    Example:
        >>> from medinpaint.checkpoint import load_models
        >>> import nibabel, os
        >>> path = os.path.join(os.path.dirname(nibabel.__file__), "tests", "data", "anatomical.nii")
        >>> volume = nibabel.load(path).get_fdata()
        >>> t = tissue_intensity(load_models(device="cpu"), volume, np.ones(volume.shape), IntensityToUnit(751, 13015))
        >>> type(t).__name__, round(t.high)
        ('TissueIntensityToUnit', 11606)
    """
    reference = reference_classes(models)
    means = None if reference is None else tissue_class_means(tissue_voxels(image, known))
    if means is None:
        return intensity
    return TissueIntensityToUnit(means, reference, intensity.clip)
