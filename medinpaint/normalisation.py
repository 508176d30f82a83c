"""The one intensity normalisation value: how native units map onto the DCGAN's [-1, 1].

Three kinds, decided here once with their defaults:

* ``ct_window`` (``level``, ``width`` in HU; default 0 / 2000, i.e. [-1000, 1000] HU);
* ``mr_percentiles`` (``low``, ``high`` percentiles of the whole volume; default 0.5 / 99.5);
* ``photo_255`` (8-bit photographs: x / 127.5 - 1).

A :class:`Normalisation` is stored in every checkpoint (as :meth:`Normalisation.to_dict`, the
plain dict that checkpoints have always held), read back with :meth:`Normalisation.from_dict`,
and passed to :func:`medinpaint.pipeline.load_slices`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medinpaint.errors import MedinpaintError

__all__ = ["CT_WINDOW", "KINDS", "MR_PERCENTILES", "Normalisation"]

CT_WINDOW = (0.0, 2000.0)  # (level, width) in HU
MR_PERCENTILES = (0.5, 99.5)  # (low, high) percentiles of the whole volume
KINDS = {"ct_window": ("level", "width"), "mr_percentiles": ("low", "high"), "photo_255": ()}
DOMAIN_KINDS = {"ct": "ct_window", "mri": "mr_percentiles", "photo": "photo_255"}


@dataclass(frozen=True)
class Normalisation:
    """An intensity mapping: its kind and parameters (see the module docstring).

    Attributes:
        kind: ``"ct_window"``, ``"mr_percentiles"`` or ``"photo_255"``.
        parameters: ``(level, width)``, ``(low, high)`` or ``()``, in the order of :data:`KINDS`.

    Example:
        >>> norm = Normalisation.for_domain("ct", ct_window=(40, 400))
        >>> norm.to_dict()
        {'kind': 'ct_window', 'level': 40.0, 'width': 400.0}
        >>> Normalisation.from_dict(norm.to_dict()) == norm
        True
        >>> norm.intensity_for(None).low, norm.intensity_for(None).high
        (-160.0, 240.0)
    """

    kind: str
    parameters: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise MedinpaintError(f"unknown normalisation kind {self.kind!r}: use one of {', '.join(KINDS)}")
        names = KINDS[self.kind]
        if len(self.parameters) != len(names):
            raise MedinpaintError(f"normalisation {self.kind} needs {', '.join(names) or 'no parameters'}, got {self.parameters}")
        object.__setattr__(self, "parameters", tuple(float(v) for v in self.parameters))
        if self.kind == "ct_window" and not self.parameters[1] > 0:
            raise MedinpaintError(f"ct_window width {self.parameters[1]:g} must be positive: e.g. ct_window=[40,400]")
        if self.kind == "mr_percentiles" and not 0 <= self.parameters[0] < self.parameters[1] <= 100:
            raise MedinpaintError(f"mr_percentiles={self.parameters}: need 0 <= low < high <= 100")

    @classmethod
    def for_domain(
        cls, domain: str, *, ct_window: tuple[float, float] | None = None, mr_percentiles: tuple[float, float] | None = None
    ) -> Normalisation:
        """The mapping of ``domain`` (``ct``, ``mri``, ``photo``), with the defaults unless given.

        Example:
            >>> Normalisation.for_domain("mri")
            Normalisation(kind='mr_percentiles', parameters=(0.5, 99.5))
        """
        if domain not in DOMAIN_KINDS:
            raise MedinpaintError(f"unknown domain {domain!r}: use ct, mri or photo")
        kind = DOMAIN_KINDS[domain]
        parameters = {"ct_window": ct_window or CT_WINDOW, "mr_percentiles": mr_percentiles or MR_PERCENTILES}
        return cls(kind, tuple(parameters.get(kind, ())))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Normalisation:
        """Read the stored dict form (``{"kind": ..., <parameter>: ...}``), e.g. from a checkpoint.

        Raises:
            MedinpaintError: an unknown kind or a missing parameter.

        Example:
            >>> Normalisation.from_dict({"kind": "mr_percentiles", "low": 0.5, "high": 99.5}).parameters
            (0.5, 99.5)
        """
        kind = values.get("kind")
        if kind not in KINDS:
            raise MedinpaintError(f"unknown normalisation kind {kind!r} in {dict(values)}: use one of {', '.join(KINDS)}")
        missing = [name for name in KINDS[kind] if name not in values]
        if missing:
            raise MedinpaintError(f"normalisation {dict(values)} lacks {', '.join(missing)}: the checkpoint is damaged, train again")
        return cls(kind, tuple(values[name] for name in KINDS[kind]))

    def to_dict(self) -> dict[str, Any]:
        """The plain dict stored in checkpoints (safe for ``torch.load(weights_only=True)``)."""
        return {"kind": self.kind} | dict(zip(KINDS[self.kind], self.parameters))

    @property
    def domain(self) -> str:
        """The image domain this mapping is for (``ct``, ``mri``, ``photo``)."""
        return next(domain for domain, kind in DOMAIN_KINDS.items() if kind == self.kind)

    def intensity_for(self, volume):
        """The :class:`~medinpaint.transforms.array.IntensityToUnit` for ``volume``.

        Args:
            volume: the whole volume (array or tensor) whose percentiles set an MR scale; not
                read for a CT window or a photo (may be None then).

        Raises:
            MedinpaintError: an MR volume without finite values or of constant intensity.
        """
        from medinpaint.transforms.array import IntensityToUnit

        if self.kind == "ct_window":
            return IntensityToUnit.for_ct(*self.parameters)
        if self.kind == "mr_percentiles":
            return IntensityToUnit.for_mr(volume, *self.parameters)
        return IntensityToUnit.for_photo()
