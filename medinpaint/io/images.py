"""PNG/JPG photographs and the CelebA folder layout.

Single images: grey -> C = 1, colour -> C = 3 (alpha dropped, palettes expanded; a grey image stored
in colour, every pixel's channels equal, is C = 1 when asked for grey), values in native units
(0..255 for 8-bit, 0..65535 for 16-bit grey PNG). Results are written as PNG, so pixels a PNG cannot
hold (floating point, integers beyond 16 bits) are refused.

CelebA: ``img_align_celeba/`` JPGs (178×218) are centre-cropped to 108×108 and resized to 64×64,
the DCGAN-tensorflow convention that Yeh et al. (2017) used, so the face fills the frame.
``list_eval_partition.txt`` (``<file> <0|1|2>``: train/val/test), when present, selects a split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from medinpaint.errors import MedinpaintError
from medinpaint.io.atomic import atomic_write

__all__ = [
    "ImageSource",
    "check_png_result",
    "read_image",
    "write_png",
    "celeba_items",
    "celeba_partition_file",
    "celeba_transforms",
    "CELEBA_CROP",
    "IMAGE_SUFFIXES",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
CELEBA_CROP = 108
CELEBA_SPLITS = {"train": "0", "val": "1", "test": "2"}


@dataclass(frozen=True)
class ImageSource:
    """A single photograph.

    Attributes:
        path: the file.
        max_value: 255 for 8-bit images, 65535 for 16-bit grey; None for floating-point pixels, which a
            PNG result cannot hold (:func:`check_png_result`).
    """

    path: Path
    max_value: int | None


def read_image(path: str | Path, grey: bool = False) -> tuple[np.ndarray, ImageSource]:
    """Read a PNG/JPG (or BMP/TIFF) image.

    Args:
        path: the file.
        grey: read a colour image (RGB, a palette) whose channels are equal at every pixel (a grey
            image stored in colour) as one channel, for a one-channel model.

    Returns:
        ``(image (C, H, W) float32 in native units, source)``; C = 1 grey, 3 colour.

    Raises:
        MedinpaintError: the file is not a readable image.

    Example:
        >>> import tempfile; from skimage.data import astronaut, camera
        >>> folder = Path(tempfile.mkdtemp())
        >>> Image.fromarray(astronaut()).save(folder / "a.png"); Image.fromarray(camera()).convert("P").save(folder / "c.png")
        >>> read_image(folder / "a.png", grey=True)[0].shape, read_image(folder / "c.png")[0].shape, read_image(folder / "c.png", grey=True)[0].shape
        ((3, 512, 512), (3, 512, 512), (1, 512, 512))
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                array, max_value = np.asarray(image, dtype=np.float32)[None], 65535
            elif mode in ("1", "L", "LA"):
                array, max_value = np.asarray(image.convert("L"), dtype=np.float32)[None], 255
            elif mode == "F":
                array, max_value = np.array(image, dtype=np.float32)[None], None  # a copy: asarray would be a read-only view
            else:
                array, max_value = np.moveaxis(np.asarray(image.convert("RGB"), dtype=np.float32), -1, 0), 255
    except (UnidentifiedImageError, OSError) as err:
        raise MedinpaintError(f"{path} is not a readable image ({err}): give a DICOM, NIfTI, PNG or JPG file") from err
    if grey and array.shape[0] == 3 and (array == array[:1]).all():
        array = array[:1]
    return np.ascontiguousarray(array), ImageSource(path, max_value)


def check_png_result(image: np.ndarray, source: ImageSource) -> None:
    """Refuse an input image (C, H, W) whose known pixels a PNG result could not keep bit for bit:
    floating-point pixels (a 32-bit float TIFF) or integers outside 0..65535.

    Example:
        >>> check_png_result(np.zeros((1, 4, 4)), ImageSource(Path("dose.tif"), None))
        Traceback (most recent call last):
        ...
        medinpaint.errors.MedinpaintError: dose.tif holds floating-point pixels, which a PNG result cannot keep: give the image as NIfTI (its values kept as they are) or as an 8- or 16-bit PNG
    """
    if source.max_value is None:
        raise MedinpaintError(
            f"{source.path.name} holds floating-point pixels, which a PNG result cannot keep: give the image as NIfTI "
            "(its values kept as they are) or as an 8- or 16-bit PNG"
        )
    if image.size and not (image.min() >= 0 and image.max() <= source.max_value):
        raise MedinpaintError(
            f"{source.path.name} holds values from {image.min():.0f} to {image.max():.0f}, beyond the 0..{source.max_value} "
            "that a PNG result can keep: give the image as NIfTI (its values kept as they are)"
        )


def write_png(source: ImageSource, native: np.ndarray, out_path: str | Path, overwrite: bool = False) -> Path:
    """Write one native image (C, H, W) (or (1, C, H, W)) as PNG, rounded and clipped to the source depth.

    Raises:
        MedinpaintError: the output exists (and not ``overwrite``).
    """
    values = np.asarray(native, dtype=np.float64).reshape(-1, *np.shape(native)[-2:])
    values = np.clip(np.rint(values), 0, source.max_value)
    if values.shape[0] == 1:
        image = Image.fromarray(values[0].astype(np.uint16 if source.max_value > 255 else np.uint8))
    else:
        image = Image.fromarray(np.moveaxis(values, 0, -1).astype(np.uint8), mode="RGB")

    def write(tmp: Path) -> None:
        image.save(tmp, format="PNG")

    return atomic_write(out_path, write, overwrite)


def _celeba_images_folder(root: Path) -> Path:
    return root / "img_align_celeba" if (root / "img_align_celeba").is_dir() else root


def celeba_partition_file(root: str | Path) -> Path | None:
    """CelebA's ``list_eval_partition.txt`` in the image folder or next to it; None if there is none.

    Args:
        root: the ``img_align_celeba`` folder or the folder that holds it.

    Example:
        >>> celeba_partition_file("/nonexistent") is None
        True
    """
    images = _celeba_images_folder(Path(root))
    candidates = (images / "list_eval_partition.txt", images.parent / "list_eval_partition.txt")
    return next((p for p in candidates if p.is_file()), None)


def celeba_items(root: str | Path, split: str = "all") -> list[dict[str, str]]:
    """List CelebA images as MONAI data dicts ``{"image": path}``.

    Args:
        root: the ``img_align_celeba`` folder or the folder that holds it (and optionally
            ``list_eval_partition.txt``, see :func:`celeba_partition_file`).
        split: ``"train"``, ``"val"``, ``"test"`` (needs the partition file) or ``"all"``.

    Raises:
        MedinpaintError: no JPG found, unknown split, or a split without partition file.

    Example:
        >>> celeba_items("/nonexistent")
        Traceback (most recent call last):
        ...
        medinpaint.errors.MedinpaintError: CelebA folder /nonexistent does not exist: give img_align_celeba/ or its parent
    """
    root = Path(root)
    if not root.is_dir():
        raise MedinpaintError(f"CelebA folder {root} does not exist: give img_align_celeba/ or its parent")
    images = _celeba_images_folder(root)
    if split not in ("all", *CELEBA_SPLITS):
        raise MedinpaintError(f"unknown CelebA split {split!r}: use train, val, test or all")
    files = sorted(p.name for p in images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if split != "all":
        partition = celeba_partition_file(root)
        if partition is None:
            raise MedinpaintError(
                f"split {split!r} needs list_eval_partition.txt next to {images}: "
                "add it or use split 'all'"
            )
        rows = (line.split() for line in partition.read_text().splitlines())
        wanted = {row[0] for row in rows if len(row) == 2 and row[1] == CELEBA_SPLITS[split]}
        files = [name for name in files if name in wanted]
    if not files:
        raise MedinpaintError(f"no CelebA image ({split}) found in {images}: expected JPG files")
    return [{"image": str(images / name)} for name in files]


def celeba_transforms(size: int = 64, crop: int = CELEBA_CROP):
    """MONAI chain for :func:`celeba_items`: load RGB -> centre crop ``crop`` -> area resize -> [-1, 1].

    Use it with ``monai.data.Dataset`` / ``CacheDataset``; each item becomes
    ``{"image": (3, size, size) float32 tensor in [-1, 1]}``.

    Example:
        >>> celeba_transforms().transforms[1].__class__.__name__
        'CenterSpatialCropd'
    """
    from monai.data import PILReader
    from monai.transforms import CenterSpatialCropd, Compose, EnsureTyped, LoadImaged, Resized, ScaleIntensityRanged

    reader = PILReader(converter=lambda image: image.convert("RGB"), reverse_indexing=False)
    return Compose(
        [
            LoadImaged("image", reader=reader, image_only=True, ensure_channel_first=True),
            CenterSpatialCropd("image", roi_size=(crop, crop)),
            Resized("image", spatial_size=(size, size), mode="area"),
            ScaleIntensityRanged("image", a_min=0.0, a_max=255.0, b_min=-1.0, b_max=1.0, clip=True),
            EnsureTyped("image", dtype="float32", track_meta=False),
        ]
    )
