"""Training data: 64×64 images in [-1, 1] from the config's source, with MONAI augmentation.

Sources (``TrainConfig.data``):

* ``"embedded"``: the MNI152 sample's training slices (held-out slices are never seen);
* a CelebA folder (``img_align_celeba/`` or its parent) for ``domain: photo``;
* an image or volume file (DICOM, NIfTI, PNG/JPG), or a folder of such files, read through
  :func:`medinpaint.pipeline.load_slices` with the config's normalisation.

Augmentation (off by default, on for the small brain-MRI set): ``RandFlip`` along the image's
first spatial axis (left-right for axial slices of RAS volumes such as the MNI sample, which the
pipeline keeps as (x, y)) and ``RandAffine`` with small rotations, scalings (drawn per axis) and
translations, border padding. The random state is re-seeded at every epoch from (seed, epoch,
rank), so a resumed run draws the same augmentations as an uninterrupted one.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from monai.data import Dataset
from monai.transforms import Compose, EnsureType, RandAffine, RandFlip, Randomizable

from medinpaint.config import TrainConfig
from medinpaint.errors import MedinpaintError

__all__ = ["reseed_augmentation", "training_augmentation", "training_dataset"]

IMAGE_SUFFIXES = (".nii", ".nii.gz", ".dcm", ".png", ".jpg", ".jpeg")


def training_augmentation(config: TrainConfig) -> Compose | None:
    """The MONAI augmentation chain of ``config`` (None when both switches are off).

    Example:
        >>> augment = training_augmentation(TrainConfig(augment_flip=True, augment_affine=True))
        >>> augment.set_random_state(0)(torch.zeros(1, 64, 64)).shape
        torch.Size([1, 64, 64])
    """
    steps: list = []
    if config.augment_flip:
        steps.append(RandFlip(prob=0.5, spatial_axis=0))
    if config.augment_affine:
        steps.append(
            RandAffine(
                prob=0.8,
                rotate_range=math.radians(config.rotate_degrees),
                scale_range=(config.scale_range, config.scale_range),
                translate_range=(config.translate_pixels, config.translate_pixels),
                padding_mode="border",
                cache_grid=True,
                spatial_size=(config.image_size, config.image_size),
            )
        )
    if not steps:
        return None
    return Compose([*steps, EnsureType(data_type="tensor", track_meta=False)])


def reseed_augmentation(dataset: Dataset, seed: int) -> None:
    """Re-seed the dataset's random transforms (no-op without augmentation)."""
    if isinstance(dataset.transform, Randomizable):
        dataset.transform.set_random_state(seed=seed % (2**32))


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
    augment = training_augmentation(config)
    if config.data == "embedded":
        if config.domain != "mri" or config.channels != 1:
            raise MedinpaintError(
                f"data 'embedded' is a 1-channel MRI sample but the config says domain={config.domain!r}, "
                f"channels={config.channels}: set domain: mri and channels: 1"
            )
        from medinpaint.data.sample import sample_slices

        return Dataset(data=sample_slices("train"), transform=augment)
    source = Path(config.data).expanduser()
    if not source.exists():
        raise MedinpaintError(f"training data {source} does not exist: fix `data` in the config")
    if config.domain == "photo" and source.is_dir() and _is_celeba(source):
        return _celeba_dataset(source, augment)
    images = _load_images(source, config)
    if images.shape[1] != config.channels:
        raise MedinpaintError(
            f"training data {source} has {images.shape[1]} channel(s) but the config says channels="
            f"{config.channels}: set channels: {images.shape[1]}"
        )
    return Dataset(data=images, transform=augment)


def _is_celeba(folder: Path) -> bool:
    return folder.name == "img_align_celeba" or (folder / "img_align_celeba").is_dir()


def _celeba_dataset(folder: Path, augment: Compose | None) -> Dataset:
    """CelebA's training partition through the io loader, then the augmentation on its images."""
    from medinpaint.io.images import celeba_dataset

    dataset = celeba_dataset(folder, partition="train")
    if augment is None:
        return dataset
    return Dataset(data=dataset, transform=augment)


def _load_images(source: Path, config: TrainConfig) -> torch.Tensor:
    """All 64×64 slices of one file, one DICOM series folder, or a folder of files, concatenated."""
    from medinpaint.pipeline import load_slices

    options = {
        "domain": config.domain,
        "axis": config.axis,
        "ct_window": tuple(config.ct_window),
        "mr_percentiles": tuple(config.mr_percentiles),
    }
    files = sorted(p for p in source.iterdir() if p.name.lower().endswith(IMAGE_SUFFIXES)) if source.is_dir() else []
    if source.is_file() or any(p.suffix.lower() == ".dcm" for p in files) or not files:
        # one file, or a folder that is itself one DICOM series (load_slices reports other folders)
        return load_slices(source, **options).images
    return torch.cat([load_slices(path, **options).images for path in files])
