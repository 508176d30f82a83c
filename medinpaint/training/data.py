"""Training data: 64×64 images in [-1, 1] from the config's source, with MONAI augmentation.

Sources (``TrainConfig.data``):

* ``"embedded"``: the MNI152 sample's training slices (held-out slices are never seen), or with
  ``sampling: windows`` its training windows (:mod:`medinpaint.training.windows`; the held-out
  slab is never touched in any orientation);
* a CelebA folder (``img_align_celeba/`` or its parent) for ``domain: photo``: its training
  partition when ``list_eval_partition.txt`` is there, else every image;
* an image or volume file (DICOM, NIfTI, PNG/JPG), or a folder of such files, read through
  :func:`medinpaint.pipeline.load_slices` with the config's normalisation.

Augmentation (off by default, on for the small brain-MRI set) is :class:`RandBatchAffine`,
applied to whole batches in the loop: a mirror along the image width (left-right on the
pipeline's axial slices; the symmetric MNI template is its own mirror image, so there it only
matters for other data) and, with probability ``affine_prob``, a small rotation, per-axis
scaling and translation. Its random state is re-seeded at every epoch from (seed, epoch, rank),
so a resumed run draws the same augmentations as an uninterrupted one.
"""

from __future__ import annotations

from operator import itemgetter
from pathlib import Path

import torch
from monai.data import Dataset
from monai.transforms import Compose, Lambda

from medinpaint.config import TrainConfig
from medinpaint.errors import MedinpaintError
from medinpaint.training.augment import RandBatchAffine

__all__ = ["training_augmentation", "training_dataset"]

IMAGE_SUFFIXES = (".nii", ".nii.gz", ".dcm", ".png", ".jpg", ".jpeg")


def training_augmentation(config: TrainConfig) -> RandBatchAffine | None:
    """The batch augmentation of ``config`` (None when both switches are off).

    Example:
        >>> augment = training_augmentation(TrainConfig(augment_flip=True, augment_affine=True))
        >>> augment.set_random_state(0)(torch.zeros(2, 1, 64, 64)).shape
        torch.Size([2, 1, 64, 64])
    """
    if not (config.augment_flip or config.augment_affine):
        return None
    return RandBatchAffine(
        prob=config.affine_prob if config.augment_affine else 0.0,
        rotate_degrees=config.rotate_degrees,
        scale_range=config.scale_range,
        translate_pixels=config.translate_pixels,
        flip_prob=0.5 if config.augment_flip else 0.0,
        flip_axis=1,
    )


def training_dataset(config: TrainConfig) -> Dataset:
    """The training images of ``config`` as a MONAI ``Dataset`` of (C, 64, 64) tensors in [-1, 1].

    Raises:
        MedinpaintError: the source does not exist, holds no usable image, or does not match the
            config's domain / channel count.

    Example:
        >>> data = training_dataset(TrainConfig(ngf=8, ndf=8))
        >>> len(data), tuple(data[0].shape)
        (76, (1, 64, 64))
    """
    if config.data == "embedded":
        if config.domain != "mri" or config.channels != 1:
            raise MedinpaintError(
                f"data 'embedded' is a 1-channel MRI sample but the config says domain={config.domain!r}, "
                f"channels={config.channels}: set domain: mri and channels: 1"
            )
        if config.sampling == "windows":
            return Dataset(data=_embedded_windows(config))
        from medinpaint.data.sample import sample_slices

        return Dataset(data=sample_slices("train"))
    if config.sampling == "windows":
        raise MedinpaintError(
            f"sampling 'windows' is implemented for data 'embedded' only, not {config.data!r}: "
            "set sampling: slices or data: embedded"
        )
    source = Path(config.data).expanduser()
    if not source.exists():
        raise MedinpaintError(f"training data {source} does not exist: fix `data` in the config")
    if config.domain == "photo" and source.is_dir() and _is_celeba(source):
        return _celeba_dataset(source)
    images = _load_images(source, config)
    if images.shape[1] != config.channels:
        raise MedinpaintError(
            f"training data {source} has {images.shape[1]} channel(s) but the config says channels="
            f"{config.channels}: set channels: {images.shape[1]}"
        )
    return Dataset(data=images)


def _embedded_windows(config: TrainConfig) -> torch.Tensor:
    from medinpaint.data.sample import heldout_slab, sample_volume
    from medinpaint.training.windows import sample_windows

    volume, _ = sample_volume()
    low, high = config.window_sides
    intensity = config.normalisation.intensity_for(volume)
    return sample_windows(
        volume,
        heldout_slab(),
        (intensity.low, intensity.high),
        count=config.window_count,
        sides=(int(low), int(high)),
        seed=config.seed,
        augment=config.augment_anatomy,
        orientations=config.window_orientations,
        progress=True,
    )


def _is_celeba(folder: Path) -> bool:
    return folder.name == "img_align_celeba" or (folder / "img_align_celeba").is_dir()


def _celeba_dataset(folder: Path) -> Dataset:
    """CelebA through the io loader (its training partition when the partition file is there)."""
    from medinpaint.io.images import celeba_items, celeba_partition_file, celeba_transforms

    items = celeba_items(folder, split="all" if celeba_partition_file(folder) is None else "train")
    return Dataset(data=items, transform=Compose([celeba_transforms(), Lambda(itemgetter("image"))]))


def _load_images(source: Path, config: TrainConfig) -> torch.Tensor:
    """All 64×64 slices of one file, one DICOM series folder, or a folder of files, concatenated."""
    from medinpaint.pipeline import load_slices

    options = {"domain": config.domain, "axis": config.axis, "normalisation": config.normalisation}
    files = sorted(p for p in source.iterdir() if p.name.lower().endswith(IMAGE_SUFFIXES)) if source.is_dir() else []
    if source.is_file() or any(p.suffix.lower() == ".dcm" for p in files) or not files:
        # one file, or a folder that is itself one DICOM series (load_slices reports other folders)
        return load_slices(source, **options).images
    return torch.cat([load_slices(path, **options).images for path in files])
