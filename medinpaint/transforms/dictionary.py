"""Dictionary twins of :mod:`medinpaint.transforms.array` (keys ``image``/``mask``).

Each twin holds one array transform and loops over ``keys``. :class:`ToGridd` also carries a
known mask (1 = known) under ``mask_key`` along with the images and keeps, per image key, the
:class:`~medinpaint.transforms.array.GridRecord` under ``"<key>_record"`` so that
:meth:`ToGridd.inverse` can map grids back to native images.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from medinpaint.transforms.array import IntensityToUnit, SquareResize, ToGrid

__all__ = ["IntensityToUnitd", "SquareResized", "ToGridd", "RECORD_SUFFIX"]

RECORD_SUFFIX = "_record"


class IntensityToUnitd(MapTransform):
    """Dict twin of :class:`IntensityToUnit`.

    Example:
        >>> t = IntensityToUnitd("image", IntensityToUnit.for_photo())
        >>> t({"image": torch.full((3, 2, 2), 255.0)})["image"].max().item()
        1.0
    """

    def __init__(self, keys: KeysCollection, intensity: IntensityToUnit, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.intensity = intensity

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.intensity(d[key])
        return d


class SquareResized(MapTransform):
    """Dict twin of :class:`SquareResize` (apply to images and masks alike).

    Example:
        >>> SquareResized(["image", "mask"])({"image": torch.zeros(1, 9, 5), "mask": torch.ones(1, 9, 5)})["mask"].shape
        torch.Size([1, 64, 64])
    """

    def __init__(self, keys: KeysCollection, size: int = 64, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.resize = SquareResize(size)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.resize(d[key])
        return d


class ToGridd(MapTransform):
    """Dict twin of :class:`ToGrid`; the mask under ``mask_key`` (1 = known) travels with the images.

    With a mask, each image is resized from its known pixels only and the mask becomes the grid
    known mask (>= 50 % known); the native mask is kept under ``"<mask_key>_native"``.

    Args:
        keys: image keys.
        intensity: the domain's intensity map.
        mask_key: key of the known mask (1, H, W), or None.
        size: grid side.

    Example:
        >>> t = ToGridd("image", IntensityToUnit.for_photo(), mask_key="mask")
        >>> out = t({"image": torch.full((3, 128, 128), 255.0), "mask": torch.ones(1, 128, 128)})
        >>> out["image"].shape, out["mask"].shape
        (torch.Size([3, 64, 64]), torch.Size([1, 64, 64]))
        >>> t.inverse(out)["image"].shape
        torch.Size([3, 128, 128])
    """

    def __init__(
        self,
        keys: KeysCollection,
        intensity: IntensityToUnit,
        mask_key: str | None = None,
        size: int = 64,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.to_grid = ToGrid(intensity, size)
        self.mask_key = mask_key

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        known_native = d.get(self.mask_key) if self.mask_key is not None else None
        known_grid = None
        for key in self.key_iterator(d):
            d[f"{key}{RECORD_SUFFIX}"] = self.to_grid.record(d[key])
            if known_native is None:
                d[key] = self.to_grid(d[key])
            else:
                d[key], known_grid = self.to_grid.with_mask(d[key], known_native)
        if known_grid is not None:
            d[f"{self.mask_key}_native"], d[self.mask_key] = known_native, known_grid
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Map every image key back to native units and size; restore the native mask."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = ToGrid.inverse(d[key], d.pop(f"{key}{RECORD_SUFFIX}"))
        if self.mask_key is not None and f"{self.mask_key}_native" in d:
            d[self.mask_key] = d.pop(f"{self.mask_key}_native")
        return d
