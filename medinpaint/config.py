"""Training configuration: one frozen dataclass, read from YAML with command-line overrides.

A run is fully described by a :class:`TrainConfig`; the same dict is stored inside every
checkpoint so that a model always says how it was trained. Named configs (``brain_mri``,
``celeba``, ``ct``, ``folder``) ship in ``medinpaint/configs/``.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from medinpaint.errors import MedinpaintError
from medinpaint.normalisation import CT_WINDOW, MR_PERCENTILES, Normalisation

__all__ = ["ConfigMixin", "TrainConfig", "config_path", "named_configs", "parse_override"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DOMAINS = ("mri", "ct", "photo")
PRECISIONS = ("bf16", "fp32")
SAMPLINGS = ("slices", "windows")


class ConfigMixin:
    """YAML and dict round trips for a frozen config dataclass whose field annotations are strings.

    ``config_folder``: the sub-folder of ``medinpaint/configs`` that holds the class's shipped
    configs ("" = the folder itself).
    """

    config_folder = ""

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Any:
        """Build a config from plain values (YAML / checkpoint); unknown keys are errors.

        Raises:
            MedinpaintError: an unknown key (with the closest known one) or a bad value.
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, value in values.items():
            if key not in known:
                close = difflib.get_close_matches(str(key), list(known), n=1)
                hint = f": did you mean {close[0]!r}?" if close else f": known keys are {', '.join(known)}"
                raise MedinpaintError(f"unknown config key {key!r}{hint}")
            kwargs[key] = _coerce(key, value, known[key].type)
        return cls(**kwargs)

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: Mapping[str, Any] | None = None) -> Any:
        """Read a YAML config (a path or a shipped name such as ``"brain_mri"``), then apply overrides.

        Args:
            path: YAML file, or the name of a config in ``medinpaint/configs``.
            overrides: key → value (values may be strings, parsed as YAML scalars: ``"3"`` → 3).

        Raises:
            MedinpaintError: missing file, bad YAML, unknown key or bad value.

        Example:
            >>> TrainConfig.from_yaml("brain_mri", {"epochs": "3"}).epochs
            3
            >>> from medinpaint.training.fill import FillTrainConfig
            >>> FillTrainConfig.from_yaml("brain_mri").steps > 0
            True
        """
        resolved = config_path(path, cls.config_folder)
        try:
            values = yaml.safe_load(resolved.read_text()) or {}
        except yaml.YAMLError as err:
            raise MedinpaintError(f"config {resolved} is not valid YAML ({err}): fix the file") from err
        if not isinstance(values, dict):
            raise MedinpaintError(f"config {resolved} must be a mapping of key: value lines")
        for key, value in (overrides or {}).items():
            values[key] = yaml.safe_load(value) if isinstance(value, str) else value
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists for tuples) safe for YAML and ``torch.load(weights_only=True)``."""
        values = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

    def to_yaml(self, path: Path) -> None:
        """Write the config as YAML (e.g. next to a run's checkpoints)."""
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed (validated like a new config)."""
        return type(self).from_dict({**self.to_dict(), **changes})



@dataclass(frozen=True)
class TrainConfig(ConfigMixin):
    """Everything that defines one DCGAN training run.

    Attributes:
        domain: ``"mri"``, ``"ct"`` or ``"photo"``; the intensity normalisation follows it.
        data: ``"embedded"`` (the MNI152 sample's training slices), a CelebA folder, an image
            or volume file, or a folder of them.
        channels: image channels (1 for MRI/CT, 3 for photos).
        nz: latent size. ngf / ndf: generator / discriminator width.
        batch_size: images per optimisation step (per process under DDP).
        epochs: passes over the data; ``steps`` (when set) stops earlier, after that many
            optimisation steps in total.
        lr, beta1: Adam settings (Radford et al.: 2e-4, 0.5).
        instance_noise: standard deviation of Gaussian noise added to every image D sees, real
            and fake (Sønderby et al., 2017); 0 is the plain DCGAN. It keeps D from winning at
            once on small sets such as the 76 brain slices.
        seed: seeds weights, data order, augmentation and noise.
        ct_window: CT (level, width) in HU mapped to [-1, 1] (see :mod:`medinpaint.normalisation`).
        mr_percentiles: MR (low, high) percentiles mapped to [-1, 1].
        axis: slicing axis for volumes.
        sampling: ``"slices"`` (whole slices padded to a square, the paper's and CelebA's grid) or
            ``"windows"`` (square windows of ``window_sides`` voxels around tissue in all three
            orientations, outside the held-out slab: the grid that inference uses around holes;
            embedded sample only).
        window_sides: smallest and largest native window side (voxels) for ``"windows"``.
        window_count: training windows drawn once before training (``"windows"``).
        window_orientations: relative frequency of axial, coronal and sagittal slices among the
            training windows (``"windows"``); e.g. ``[1, 0, 0]`` for axial windows only.
        augment_anatomy: MONAI bias field, contrast, scale, elastic deformation and flips on each slice
            before windows are cut (``"windows"``).
        augment_flip: random left-right flips.
        augment_affine: small random rotations / scalings / translations.
        affine_prob: share of images that get the affine part (it blurs them a little).
        rotate_degrees, scale_range, translate_pixels: the affine augmentation ranges.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
        precision: ``"bf16"`` (autocast, the fastest on CPU and CUDA) or ``"fp32"``.
        channels_last: NHWC memory format (faster on CPU with oneDNN and on tensor cores).
        sample_every: write a sample grid every this many epochs (and at the end).
        checkpoint_every: write a resumable checkpoint every this many epochs (and at the end).

    Example:
        >>> cfg = TrainConfig(ngf=8, ndf=8)
        >>> cfg.replace(epochs=2).epochs, cfg.domain
        (2, 'mri')
    """

    domain: str = "mri"
    data: str = "embedded"
    channels: int = 1
    image_size: int = 64
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    batch_size: int = 64
    epochs: int = 25
    steps: int | None = None
    lr: float = 2e-4
    beta1: float = 0.5
    instance_noise: float = 0.0
    seed: int = 0
    ct_window: tuple[float, float] = CT_WINDOW
    mr_percentiles: tuple[float, float] = MR_PERCENTILES
    axis: int = 2
    sampling: str = "slices"
    window_sides: tuple[float, float] = (64.0, 128.0)
    window_count: int = 40000
    window_orientations: tuple[float, float, float] = (0.5, 0.25, 0.25)
    augment_anatomy: bool = False
    augment_flip: bool = False
    augment_affine: bool = False
    affine_prob: float = 0.5
    rotate_degrees: float = 5.0
    scale_range: float = 0.05
    translate_pixels: float = 2.0
    device: str = "auto"
    precision: str = "bf16"
    channels_last: bool = True
    sample_every: int = 1
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        _check_choice("domain", self.domain, DOMAINS)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("sampling", self.sampling, SAMPLINGS)
        if not 1 <= self.window_sides[0] <= self.window_sides[1]:
            raise MedinpaintError(f"window_sides={self.window_sides}: need 1 <= smallest <= largest")
        if self.channels not in (1, 3):
            raise MedinpaintError(f"channels={self.channels} is not supported: use 1 (MRI/CT) or 3 (photo)")
        if self.image_size != 64:
            raise MedinpaintError(f"image_size={self.image_size} is not supported: the DCGAN works on 64")
        for name in ("nz", "ngf", "ndf", "batch_size", "epochs", "window_count", "sample_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise MedinpaintError(f"{name}={getattr(self, name)} must be at least 1")
        if self.steps is not None and self.steps < 1:
            raise MedinpaintError(f"steps={self.steps} must be at least 1 (or null to run all epochs)")
        if not 0 < self.lr < 1 or not 0 <= self.beta1 < 1:
            raise MedinpaintError(f"lr={self.lr}, beta1={self.beta1} out of range: use 0<lr<1, 0<=beta1<1")
        Normalisation("mr_percentiles", self.mr_percentiles)  # both checked, whatever the domain
        Normalisation("ct_window", self.ct_window)
        if self.instance_noise < 0:
            raise MedinpaintError(f"instance_noise={self.instance_noise} must be >= 0")
        if len(self.window_orientations) != 3 or min(self.window_orientations) < 0 or not sum(self.window_orientations) > 0:
            raise MedinpaintError(
                f"window_orientations={self.window_orientations}: give 3 weights >= 0 (axial, coronal, sagittal), not all 0"
            )
        if not 0 <= self.affine_prob <= 1:
            raise MedinpaintError(f"affine_prob={self.affine_prob} must lie in [0, 1]")

    @property
    def normalisation(self) -> Normalisation:
        """The intensity mapping of this domain, stored in checkpoints for inference."""
        return Normalisation.for_domain(self.domain, ct_window=self.ct_window, mr_percentiles=self.mr_percentiles)


def named_configs(folder: str = "") -> list[str]:
    """Names of the configs shipped in ``medinpaint/configs`` (or its sub-folder ``folder``)."""
    return sorted(p.stem for p in (CONFIG_DIR / folder).glob("*.yaml"))


def config_path(path_or_name: str | Path, folder: str = "") -> Path:
    """Resolve a config file path or the name of a config shipped in ``medinpaint/configs/<folder>``.

    Raises:
        MedinpaintError: neither an existing file nor a shipped name (lists the names).
    """
    candidate = Path(path_or_name)
    if candidate.is_file():
        return candidate
    shipped = CONFIG_DIR / folder / f"{Path(str(path_or_name)).stem}.yaml"
    if candidate.suffix in ("", ".yaml") and candidate.parent == Path(".") and shipped.is_file():
        return shipped
    raise MedinpaintError(
        f"config {str(path_or_name)!r} not found: give a YAML file or one of {', '.join(named_configs(folder))}"
    )


def parse_override(text: str) -> tuple[str, Any]:
    """Parse a command-line ``key=value`` override (the value as a YAML scalar).

    Example:
        >>> parse_override("epochs=5")
        ('epochs', 5)
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise MedinpaintError(f"override {text!r} is not key=value: write e.g. epochs=5")
    return key.strip(), yaml.safe_load(value)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(choices)}"
        raise MedinpaintError(f"{name}={value!r} is not supported: {hint}")


def _coerce(key: str, value: Any, annotation: str) -> Any:
    """Check and convert one YAML value to the field's type (annotations are strings here)."""
    if value is None and "None" in annotation:
        return None
    try:
        if annotation.startswith("tuple"):
            numbers = tuple((int if annotation.startswith("tuple[int") else float)(v) for v in value)
            if len(numbers) != annotation.count(",") + 1:  # tuple[float, float] -> 2
                raise ValueError
            return numbers
        if annotation == "bool":
            if not isinstance(value, bool):
                raise ValueError
            return value
        if annotation.startswith("int"):
            if isinstance(value, bool) or float(value) != int(value):
                raise ValueError
            return int(value)
        if annotation == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise MedinpaintError(f"config key {key!r}: {value!r} is not a valid {annotation}") from None
