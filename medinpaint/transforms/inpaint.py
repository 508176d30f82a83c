"""Semantic inpainting as a MONAI transform: lesion filling inside a ``Compose`` pipeline.

:class:`SemanticInpaint` takes a channel-first image, (C, H, W) or (C, H, W, D) in native units
(as ``LoadImaged`` + ``EnsureChannelFirstd`` give it), and a mask in the file convention,
NONZERO = fill. It cuts the image into 2-D slices along ``axis`` and fills the slices the mask
touches with :func:`medinpaint.native_inpainting.inpaint_native`, or, for a one-channel volume
under the fill network (``fill="auto"``, as ``medinpaint inpaint --fill``), fills the volume in
3-D (:func:`medinpaint.volume_inpainting.inpaint_stack_3d`; a ``MetaTensor``'s voxel size from
its affine, as the command line reads a NIfTI file's). It returns the image in its own
units and dtype with its metadata (affine, meta dict) kept; only masked voxels change.

Slices go to the generator in the display orientation that ``medinpaint inpaint`` uses for NIfTI
files (:func:`medinpaint.io.nifti.extract_slices`: rows = second spatial axis reversed), so a
volume filled here and the same file filled on the command line see the same slices.
:class:`SemanticInpaintd` is the dictionary twin.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Mapping
from dataclasses import replace

import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data import MetaTensor, get_track_meta
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends
from monai.utils.type_conversion import convert_to_tensor

from medinpaint import native_inpainting
from medinpaint.checkpoint import LoadedModels, load_models
from medinpaint.device import pick_device
from medinpaint.errors import MedinpaintError
from medinpaint.fill_modes import check_fill, fills_in_3d
from medinpaint.inpainting import SearchConfig
from medinpaint.inpainting.brain_extraction import find_brain
from medinpaint.inpainting.detail import default_detail_gain
from medinpaint.inpainting.search import ESTIMATES
from medinpaint.masks import check_mask
from medinpaint.slice_mirror import guide_slices_by_mirror, voided_beside_slices
from medinpaint.tissue_contrast import tissue_intensity
from medinpaint.transforms.array import IntensityToUnit
from medinpaint.volume_inpainting import inpaint_stack_3d

__all__ = ["SemanticInpaint", "SemanticInpaintd", "checkpoint_intensity"]

logger = logging.getLogger("medinpaint.transforms")


def checkpoint_intensity(
    models: LoadedModels, image: NdarrayOrTensor, known: NdarrayOrTensor | None = None, *, network: bool = False
) -> IntensityToUnit:
    """The checkpoint's intensity mapping for ``image``: CT window, MR percentiles of the image's
    ``known`` voxels (nonzero; None = all), or x/127.5 - 1. The hole's values then never set the scale.
    For a ``network`` fill, the map that sends the known voxels' tissue classes onto the network's
    when the model knows them (:func:`medinpaint.tissue_contrast.tissue_intensity`).

    Example:
        >>> checkpoint_intensity(load_models(device="cpu"), torch.arange(1001.0)).high
        995.0
        >>> checkpoint_intensity(load_models(device="cpu"), torch.arange(1001.0), torch.arange(1001) < 501).high
        497.5
    """
    image = convert_to_tensor(image, track_meta=False)
    if known is None:
        known = torch.ones_like(image, dtype=torch.bool)
    else:
        known = convert_to_tensor(known, track_meta=False).to(image.device).expand_as(image) != 0
    intensity = models.normalisation.intensity_for(image[known])
    return tissue_intensity(models, image, known, intensity) if network else intensity


def _to_display(stack: torch.Tensor) -> torch.Tensor:
    """(..., i, j) volume slices -> (..., rows, cols) as shown (rows = j reversed)."""
    return stack.transpose(-1, -2).flip(-2)


def _from_display(stack: torch.Tensor) -> torch.Tensor:
    return stack.flip(-2).transpose(-1, -2)


class SemanticInpaint(Transform):
    """Fill the masked voxels of a channel-first image with a domain's learned prior, slice by slice or in 3-D.

    Args:
        checkpoint: DCGAN checkpoint; None = the embedded brain-MRI model. Loaded once, here.
        axis: spatial axis of a volume to cut slices along (default -1, the last: axial for
            RAS NIfTI); ignored for 2-D images.
        method: ``"network"`` (the checkpoint's posterior-mean fill network; for a model trained
            on the embedded template, the image's tissue classes outside the mask mapped onto the
            template's first, :mod:`medinpaint.tissue_contrast`), ``"search"`` (the DCGAN latent
            search, Yeh et al. 2017) or ``"auto"`` (network when the checkpoint carries one), as
            ``medinpaint inpaint --method``.
        fill: ``"3d"``, ``"slices"`` or ``"auto"`` for a one-channel volume (C = 1, three
            spatial axes), as ``medinpaint inpaint --fill``; 2-D images are filled as slices.
        search: latent-search settings.
        grid: ``"windows"`` around each hole, whole ``"slices"``, or ``"auto"`` (what the
            checkpoint was trained for), as ``medinpaint inpaint --grid``.
        estimate: the fill, ``"mean"`` of the restarts or the ``"best"`` restart.
        prior_weight: share of the model's fill in the hole against the biharmonic fill;
            None = the default of the method and grid, as ``medinpaint inpaint --prior-weight``.
        detail_gain: the 3-D network fill's unsharp-mask gain in thick holes of a noise-free volume,
            scaled down with the volume's noise (:func:`~medinpaint.inpainting.detail.noisy_gain`);
            None = the default (0.75), 0 = the posterior mean, as ``medinpaint inpaint --detail-gain``.
        mirror: for a one-channel ``MetaTensor`` (1, H, W, D): move each hole's fill towards its
            fill from the mirror image of the other hemisphere (left-right from the affine), by
            how well that predicts the known voxels around the hole
            (:mod:`medinpaint.inpainting.mirror_guide`), in 3-D for the 3-D fill and within each
            slice for the slice-wise fill (:mod:`medinpaint.slice_mirror`), as ``medinpaint inpaint --mirror``;
            in the 3-D fill, with a model trained on the embedded template, the voxels with no
            mirror image also towards that template placed on the head (:mod:`medinpaint.inpainting.template_guide`).
            A brain mask given with the image (``__call__``'s ``brain``) is what the guides read.
        find_brain: without a brain mask, in a one-channel ``MetaTensor`` volume of an MR model, find the
            brain with deepbet (:func:`medinpaint.inpainting.brain_extraction.find_brain`); when the
            volume is a whole head with its skull, the guides read only that brain, as ``medinpaint
            inpaint --find-brain`` (the default there too). What was found is logged (logger
            ``medinpaint.transforms``, level INFO).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        progress: show the search's progress bar.

    Example:
        >>> from monai.data import MetaTensor
        >>> image = MetaTensor(torch.rand(1, 40, 48, 3) * 1000, affine=torch.diag(torch.tensor([2.0, 2, 3, 1])))
        >>> lesion = torch.zeros(1, 40, 48, 3)
        >>> lesion[:, 10:20, 15:30, 1] = 1  # nonzero = fill; only slice 1 is touched
        >>> filled = SemanticInpaint(search=SearchConfig(iterations=5), device="cpu")(image, lesion)
        >>> bool(torch.equal(filled[lesion == 0], image[lesion == 0])), bool((filled[lesion == 1] != image[lesion == 1]).any())
        (True, True)
        >>> type(filled).__name__, filled.affine.diagonal().tolist()
        ('MetaTensor', [2.0, 2.0, 3.0, 1.0])
    """

    backend = [TransformBackends.TORCH]

    def __init__(
        self,
        checkpoint: str | os.PathLike | None = None,
        *,
        axis: int = -1,
        method: str = "auto",
        fill: str = "auto",
        search: SearchConfig = SearchConfig(),
        grid: str = "auto",
        estimate: str = "mean",
        prior_weight: float | None = None,
        detail_gain: float | None = None,
        mirror: bool = True,
        find_brain: bool = True,
        device: str = "auto",
        progress: bool = False,
    ) -> None:
        if not -3 <= axis < 3:
            raise MedinpaintError(f"axis {axis} is not a spatial axis of a volume: use 0, 1 or 2 (or -1 for the last)")
        for name, value, choices in (("grid", grid, ("auto", *native_inpainting.GRIDS)), ("estimate", estimate, ESTIMATES)):
            if value not in choices:
                raise MedinpaintError(f"{name} {value!r} is not one of {', '.join(choices)}: pick one of them")
        check_fill(fill)
        native_inpainting.check_method(method)
        self.detail_gain = default_detail_gain(detail_gain)
        self.mirror, self.find_brain = mirror, find_brain
        self.models = load_models(checkpoint, device=pick_device(device))
        self.method = native_inpainting.default_method(self.models, method)
        self.grid = native_inpainting.default_grid(self.models) if grid == "auto" else grid
        self.prior_weight = native_inpainting.default_prior_weight(self.grid, prior_weight, self.method)
        self.axis, self.fill, self.search, self.estimate, self.progress = axis % 3, fill, search, estimate, progress

    def _slices(self, volume: torch.Tensor) -> torch.Tensor:
        """(C, *spatial) -> (S, C, rows, cols) in display orientation."""
        stack = volume[None] if volume.ndim == 3 else volume.movedim(1 + self.axis, 0)
        return _to_display(stack)

    def _volume(self, stack: torch.Tensor, ndim: int) -> torch.Tensor:
        stack = _from_display(stack)
        return stack[0] if ndim == 3 else stack.movedim(0, 1 + self.axis)

    def _fill_region(self, image: torch.Tensor, mask: NdarrayOrTensor, name: str = "mask") -> torch.Tensor:
        """The region to fill (1, *spatial) bool from a mask (1 or C, *spatial), nonzero = fill (or, ``name``d, the brain)."""
        if image.ndim not in (3, 4):
            raise MedinpaintError(
                f"image shape {tuple(image.shape)} is not channel-first (C, H, W) or (C, H, W, D): "
                "add EnsureChannelFirstd before SemanticInpaintd"
            )
        if image.shape[0] != self.models.channels:
            raise MedinpaintError(
                f"image has {image.shape[0]} channel(s) but checkpoint {self.models.path.name} makes "
                f"{self.models.channels}: pass a checkpoint trained on {image.shape[0]}-channel images"
            )
        fill = convert_to_tensor(mask, track_meta=False)
        if fill.ndim != image.ndim or fill.shape[1:] != image.shape[1:]:
            raise MedinpaintError(
                f"{name} shape {tuple(fill.shape)} does not match image shape {tuple(image.shape)}: "
                f"give a channel-first {name} on the image's grid (resample it onto the image)"
            )
        return (fill != 0).any(dim=0, keepdim=True).to(image.device)

    def _in_3d(self, image: torch.Tensor, known: torch.Tensor) -> bool:
        """Whether to fill in 3-D: a one-channel volume and ``fill`` (``"auto"`` as :func:`fills_in_3d`)."""
        volume = image.ndim == 4 and image.shape[0] == 1 and min(image.shape[1:]) > 1
        if self.fill == "3d" and not volume:
            raise MedinpaintError(f"fill '3d' needs a one-channel volume (1, H, W, D), got {tuple(image.shape)}: use fill='slices'")
        return volume and fills_in_3d(self.fill, known, self.method)

    def _found_brain(self, values: torch.Tensor, affine, fill: torch.Tensor) -> torch.Tensor | None:
        """The brain deepbet finds in ``values`` (1, X, Y, Z) when it is a head with its skull, with the hole
        ``fill`` (1, X, Y, Z) bool, as slices; None = the guides read every known voxel (``find_brain``)."""
        if not self.find_brain or self.models.domain != "mri":
            return None
        found = find_brain(values[0].numpy(), affine, next(self.models.generator.parameters()).device)
        logger.info("brain (find_brain): %s", found)
        return None if found.mask is None else self._slices(torch.from_numpy(found.mask)[None] | fill)

    def __call__(self, img: NdarrayOrTensor, mask: NdarrayOrTensor, brain: NdarrayOrTensor | None = None) -> torch.Tensor:
        """Fill ``img`` (C, H, W[, D]) where ``mask`` (1 or C, H, W[, D]) is nonzero; the guides read only
        where ``brain`` (the same shape; None = everywhere, or the brain found with ``find_brain``) is
        nonzero, as ``medinpaint inpaint --brain-mask``: on a head with its skull, its brain mask.

        Returns:
            A copy of ``img`` (a MetaTensor with its metadata when MONAI tracks metadata) in its
            own dtype; voxels outside the mask are bit-identical.

        Raises:
            MedinpaintError: not channel-first, a channel count the checkpoint does not make, a
                mask or brain mask of another shape (a brain mask with ``mirror=False``), or a mask that covers a whole slice (the whole volume for
                the fill network's 3-D fill, which fills whole slices from their neighbours).
        """
        image = convert_to_tensor(img, track_meta=get_track_meta())
        fill = self._fill_region(image, mask)
        result = image.clone()
        fill_slices = self._slices(fill)
        todo = fill_slices.flatten(1).any(dim=1)
        if not bool(todo.any()):
            return result
        values = convert_to_tensor(image, track_meta=False).detach().cpu().float()
        stack = self._slices(values)
        known = (~fill_slices).float().cpu()
        in_3d = self._in_3d(image, known)
        check_mask(known, volume=in_3d and self.method == "network")  # before the scale, which needs known voxels
        if brain is not None and not self.mirror:
            raise MedinpaintError("a brain mask is what the guides read, and mirror=False turns them off: drop one of the two")
        geometry = self.mirror and isinstance(image, MetaTensor) and image.ndim == 4 and image.shape[0] == 1
        affine = image.affine.double().cpu().numpy() if geometry else None
        directions, origin = (affine[:3, :3], affine[:3, 3]) if geometry else (None, None)
        if brain is not None:
            brain_slices = self._slices(self._fill_region(image, brain, "brain mask")).cpu()
        else:
            brain_slices = self._found_brain(values, affine, fill.cpu()) if geometry else None
        intensity = checkpoint_intensity(self.models, values, ~fill.cpu(), network=self.method == "network")
        options = {"method": self.method, "grid": self.grid, "estimate": self.estimate, "prior_weight": self.prior_weight, "progress": self.progress}
        if in_3d:
            spacing = tuple(float(v) for v in image.pixdim[:3]) if isinstance(image, MetaTensor) else None  # voxel sizes from the affine
            found = inpaint_stack_3d(
                stack, known, self.axis, self.models, intensity, self.search, detail_gain=self.detail_gain, spacing=spacing,
                directions=directions, origin=origin, brain=brain_slices, **options,
            )
        else:  # voided voxels beside a hole filled with it (outside the mask, so never written back), as on the command line
            voided = voided_beside_slices(stack, known, self.axis, directions if self.method == "network" else None, brain_slices)
            fill_known = known.masked_fill(voided, 0.0)[todo]
            found = native_inpainting.inpaint_native(stack[todo].contiguous(), fill_known, self.models, intensity, self.search, **options)
            if directions is not None:  # each slice guided by its own mirror image, as the command line's 2-D fills
                chosen = torch.nonzero(todo).flatten().tolist()
                brain_todo = None if brain_slices is None else brain_slices[todo]
                guided, _ = guide_slices_by_mirror(stack[todo], fill_known, found.filled, self.axis, [directions] * len(chosen), chosen, brain_todo)
                found = replace(found, filled=guided)
        filled = torch.zeros_like(stack)
        filled[todo] = found.filled
        filled = self._volume(filled, image.ndim).to(image.device)
        if not image.dtype.is_floating_point:
            info = torch.iinfo(image.dtype)
            filled = filled.round().clamp(info.min, info.max)
        region = fill.expand_as(image)
        result[region] = filled[region].to(image.dtype)
        return result


class SemanticInpaintd(MapTransform):
    """Dictionary twin of :class:`SemanticInpaint`: fill every image key where ``data[mask_key]`` is nonzero.

    Args:
        keys: image keys.
        mask_key: key of the mask (nonzero = fill), e.g. a lesion segmentation loaded with the image.
        brain_key: key of a brain mask (nonzero = brain) that the guides read, for a head with its skull
            (``SemanticInpaint``'s ``brain``); None = none.
        checkpoint: DCGAN checkpoint; None = the embedded brain-MRI model.
        allow_missing_keys: skip image keys that are absent.
        kwargs: ``axis``, ``search``, ``grid``, ``estimate``, ``prior_weight``, ``detail_gain``, ``mirror``, ``find_brain``,
            ``device``, ``progress`` of :class:`SemanticInpaint`.

    Example:
        Lesion filling before a (toy) tissue segmentation:

        >>> import numpy as np
        >>> from monai.data import MetaTensor, create_test_image_3d
        >>> from monai.transforms import AsDiscreted, Compose, CopyItemsd
        >>> image, lesion = create_test_image_3d(
        ...     40, 40, 12, num_objs=3, rad_max=5, rad_min=3, noise_max=0.2, channel_dim=0, random_state=np.random.RandomState(0))
        >>> data = {"image": MetaTensor(image * 800.0), "lesion": MetaTensor(lesion)}
        >>> pipeline = Compose([
        ...     SemanticInpaintd("image", "lesion", search=SearchConfig(iterations=5, restarts=1), device="cpu"),
        ...     CopyItemsd("image", names="tissue"),
        ...     AsDiscreted("tissue", threshold=400.0),
        ... ])
        >>> out = pipeline(data)
        >>> known = data["lesion"] == 0
        >>> bool(torch.equal(out["image"][known], data["image"][known])), tuple(out["tissue"].shape)
        (True, (1, 40, 40, 12))
    """

    def __init__(
        self,
        keys: KeysCollection,
        mask_key: str,
        checkpoint: str | os.PathLike | None = None,
        allow_missing_keys: bool = False,
        brain_key: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.inpaint = SemanticInpaint(checkpoint, **kwargs)
        self.mask_key, self.brain_key = mask_key, brain_key

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        if self.mask_key not in d:
            raise MedinpaintError(f"no mask under key {self.mask_key!r} (keys: {', '.join(map(str, d))}): load the mask under that key")
        if self.brain_key is not None and self.brain_key not in d:
            raise MedinpaintError(f"no brain mask under key {self.brain_key!r} (keys: {', '.join(map(str, d))}): load it under that key")
        for key in self.key_iterator(d):
            d[key] = self.inpaint(d[key], d[self.mask_key], None if self.brain_key is None else d[self.brain_key])
        return d
