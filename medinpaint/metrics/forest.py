"""Regression forest in the layout of randomforest-matlab (``regRF_train``), evaluated vectorised.

The NRQM reference model stores each forest as node tables of shape (n_nodes, n_trees), MATLAB
1-based: ``lDau``/``rDau`` (children; 0 on a leaf), ``mbest`` (split feature), ``upper`` (split
threshold: go left when ``x[mbest] <= upper``) and ``avnode`` (node prediction). The forest
prediction is the mean of the trees' leaf values. :meth:`RegressionForest.predict` walks every tree
for every sample at once: one numpy gather per depth level, not one Python loop per tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from medinpaint.errors import MedinpaintError

__all__ = ["FOREST_FIELDS", "RegressionForest"]

FOREST_FIELDS = ("lDau", "rDau", "upper", "avnode", "mbest")


@dataclass(frozen=True)
class RegressionForest:
    """Node tables of a regression forest, each (n_nodes, n_trees), MATLAB 1-based indices.

    Attributes:
        left: left child per node (1-based; 0 marks a leaf).
        right: right child per node (1-based; 0 on a leaf).
        threshold: split value; a sample goes left when its feature is ``<=`` it.
        value: prediction stored at each node (used at leaves).
        feature: split feature per node (1-based; unused on leaves).

    Example:
        >>> stump = RegressionForest(  # one tree: x[0] <= 0.5 → 1.0 else 3.0
        ...     left=np.array([[2], [0], [0]]), right=np.array([[3], [0], [0]]),
        ...     threshold=np.array([[0.5], [0.0], [0.0]]), value=np.array([[2.0], [1.0], [3.0]]),
        ...     feature=np.array([[1], [0], [0]]))
        >>> stump.predict(np.array([[0.2], [0.9]])).tolist()
        [1.0, 3.0]
    """

    left: np.ndarray
    right: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    feature: np.ndarray

    def __post_init__(self) -> None:
        shapes = {name: np.shape(getattr(self, name)) for name in ("left", "right", "threshold", "value", "feature")}
        if len(set(shapes.values())) != 1 or len(shapes["left"]) != 2:
            raise MedinpaintError(f"forest tables must all be (n_nodes, n_trees), got {shapes}")

    @property
    def n_trees(self) -> int:
        """Number of trees."""
        return self.left.shape[1]

    @classmethod
    def from_tables(cls, tables: Mapping[str, np.ndarray]) -> RegressionForest:
        """Build from the randomforest-matlab field names ``lDau, rDau, upper, avnode, mbest``.

        Raises:
            MedinpaintError: a field is missing.
        """
        missing = [name for name in FOREST_FIELDS if name not in tables]
        if missing:
            raise MedinpaintError(f"regression forest lacks fields {missing}: expected {list(FOREST_FIELDS)}")

        def table(name: str, dtype: type) -> np.ndarray:
            array = np.asarray(tables[name], dtype=dtype)
            return array.reshape(-1, 1) if array.ndim == 1 else array  # a one-tree forest squeezed by loadmat

        return cls(
            left=table("lDau", np.int64),
            right=table("rDau", np.int64),
            threshold=table("upper", np.float64),
            value=table("avnode", np.float64),
            feature=table("mbest", np.int64),
        )

    def to_tables(self) -> dict[str, np.ndarray]:
        """The node tables under the randomforest-matlab field names (inverse of :meth:`from_tables`)."""
        return {
            "lDau": self.left,
            "rDau": self.right,
            "upper": self.threshold,
            "avnode": self.value,
            "mbest": self.feature,
        }

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Mean prediction of all trees for each sample.

        Args:
            features: (n_samples, n_features) or (n_features,) array.

        Returns:
            (n_samples,) float64 predictions.

        Raises:
            MedinpaintError: the forest splits on a feature the samples do not have.
        """
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if self.feature.max(initial=0) > features.shape[1]:
            raise MedinpaintError(
                f"forest splits on feature {self.feature.max()} but samples have {features.shape[1]} features"
            )
        n_samples, trees = features.shape[0], np.arange(self.n_trees)
        node = np.zeros((n_samples, self.n_trees), dtype=np.int64)
        samples = np.arange(n_samples)[:, None]
        for _ in range(self.left.shape[0]):
            inner = self.left[node, trees] > 0
            if not inner.any():
                break
            split_value = features[samples, np.maximum(self.feature[node, trees] - 1, 0)]
            go_left = split_value <= self.threshold[node, trees]
            child = np.where(go_left, self.left[node, trees], self.right[node, trees])
            node = np.where(inner, child - 1, node)
        return self.value[node, trees].mean(axis=1)
