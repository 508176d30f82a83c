"""NRQM (Ma et al. 2017): no-reference quality from three regression forests, with a user-given model.

Score = ``[1, f₁(local_frequency), f₂(global_frequency), f₃(spatial)] · linear`` where each fᵢ is a
regression forest over one feature group (:mod:`.nrqm_features`) and ``linear`` (4,) is the robust
linear fit of the reference. Higher = better (the reference scale is about 0–10).

No model ships with medinpaint and none is downloaded. The user supplies either

- the reference ``model.mat`` (chaoma99/sr-metric): struct ``model`` with a 3-cell ``rf`` of
  randomforest-matlab forests (fields ``lDau, rDau, upper, avnode, mbest``, each
  (n_nodes, n_trees)) and ``linear`` (4,); read with :func:`scipy.io.loadmat`; or
- a converted ``.npz`` (:meth:`NrqmModel.save`): ``linear`` (4,) and, for g = 1, 2, 3,
  ``rf{g}_lDau, rf{g}_rDau, rf{g}_upper, rf{g}_avnode, rf{g}_mbest`` with the same meaning.

Without a model the metric is *unavailable*: :class:`NrqmMetric` returns NaN and says why in
:attr:`NrqmMetric.reason`; it never makes up a number.
Note that the reference model was trained on super-resolved natural photographs; its scores on
64×64 images or on MRI are outside its training range and are reported as they come.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
import torch

from medinpaint.errors import MedinpaintError
from medinpaint.metrics._files import load_npz, save_npz_atomic
from medinpaint.metrics.forest import FOREST_FIELDS, RegressionForest
from medinpaint.metrics.nrqm_features import nrqm_features

__all__ = ["NrqmModel", "nrqm", "NrqmMetric", "NO_MODEL_REASON"]

NO_MODEL_REASON = (
    "NRQM unavailable: no model file given (pass the reference model.mat of github.com/chaoma99/sr-metric "
    "or a converted .npz; medinpaint ships and downloads none)"
)


@dataclass(frozen=True)
class NrqmModel:
    """The three regression forests and the linear combination of NRQM.

    Attributes:
        forests: forests for the local-frequency, global-frequency and spatial features, in order.
        linear: (4,) weights of ``[1, s1, s2, s3]``.
    """

    forests: tuple[RegressionForest, RegressionForest, RegressionForest]
    linear: np.ndarray

    def __post_init__(self) -> None:
        if len(self.forests) != 3 or np.shape(self.linear) != (4,):
            raise MedinpaintError(
                f"NRQM model needs 3 forests and 4 linear weights, got {len(self.forests)} and {np.shape(self.linear)}"
            )

    @classmethod
    def load(cls, path: str | os.PathLike) -> NrqmModel:
        """Read the reference ``model.mat`` or a converted ``.npz``.

        Raises:
            MedinpaintError: missing, empty or damaged file, unknown suffix, or a file without the
                expected fields.
        """
        path = Path(path)
        if path.suffix == ".npz":
            required = ("linear", *(f"rf{g}_{name}" for g in (1, 2, 3) for name in FOREST_FIELDS))
            arrays = load_npz(path, required, "NRQM model")
            forests = [
                RegressionForest.from_tables({name: arrays[f"rf{g}_{name}"] for name in FOREST_FIELDS})
                for g in (1, 2, 3)
            ]
            return cls(forests=tuple(forests), linear=arrays["linear"].astype(np.float64).reshape(-1))
        if path.suffix != ".mat":
            raise MedinpaintError(f"NRQM model {path} must be the reference model.mat or a converted .npz")
        if not path.is_file():
            raise MedinpaintError(f"NRQM model file {path} not found: give the path of model.mat")
        try:
            contents = scipy.io.loadmat(path, simplify_cells=True)
        except (scipy.io.matlab.MatReadError, OSError, ValueError) as err:  # empty, truncated, not MATLAB
            raise MedinpaintError(
                f"NRQM model {path} cannot be read as a MATLAB file ({err}): download model.mat again"
            ) from err
        try:
            model = contents["model"]
            forests = [RegressionForest.from_tables(model["rf"][g]) for g in range(3)]
            linear = np.asarray(model["linear"], dtype=np.float64).reshape(-1)
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise MedinpaintError(
                f"{path} is not an NRQM model.mat (struct 'model' with 'rf' (3 forests) and 'linear'): {err}"
            ) from err
        return cls(forests=tuple(forests), linear=linear)

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the converted ``.npz`` layout (see the module docstring), atomically.

        Raises:
            MedinpaintError: the file exists and ``overwrite`` is false, or the suffix is not .npz.
        """
        tables = {
            f"rf{g}_{name}": table
            for g, forest in enumerate(self.forests, 1)
            for name, table in forest.to_tables().items()
        }
        return save_npz_atomic(path, overwrite=overwrite, linear=self.linear, **tables)


def nrqm(image: torch.Tensor | np.ndarray, model: NrqmModel) -> float:
    """NRQM score of one image (higher = better).

    Args:
        image: one image (C, H, W) in [-1, 1], C = 1 or 3, at least 64×64.
        model: a loaded :class:`NrqmModel`.

    Returns:
        The score.

    Example:
        >>> def constant_forest(value):  # one leaf per tree: predicts ``value`` for any input
        ...     leaf = np.zeros((1, 1))
        ...     return RegressionForest(leaf.astype(int), leaf.astype(int), leaf, leaf + value, leaf.astype(int))
        >>> model = NrqmModel(tuple(constant_forest(v) for v in (1.0, 2.0, 3.0)), np.array([0.5, 1.0, 1.0, 1.0]))
        >>> nrqm(torch.zeros(1, 64, 64), model)
        6.5
    """
    scores = [forest.predict(features)[0] for forest, features in zip(model.forests, nrqm_features(image))]
    return float(np.dot(np.concatenate([[1.0], scores]), model.linear))


class NrqmMetric:
    """NRQM with an optional model file: NaN plus a reason when no model is given.

    Args:
        model_path: the reference ``model.mat`` or a converted ``.npz``; ``None`` → unavailable.

    Raises:
        MedinpaintError: a path was given but the file is missing or not an NRQM model.

    Example:
        >>> metric = NrqmMetric(None)
        >>> metric.available, math.isnan(metric(torch.zeros(1, 64, 64)))
        (False, True)
        >>> metric.reason.startswith("NRQM unavailable")
        True
    """

    def __init__(self, model_path: str | os.PathLike | None = None) -> None:
        self.model = None if model_path is None else NrqmModel.load(model_path)
        self.reason = NO_MODEL_REASON if self.model is None else ""

    @property
    def available(self) -> bool:
        """Whether a model was loaded."""
        return self.model is not None

    def __call__(self, image: torch.Tensor | np.ndarray) -> float:
        """Score one image (C, H, W) in [-1, 1]; NaN when unavailable."""
        return math.nan if self.model is None else nrqm(image, self.model)
