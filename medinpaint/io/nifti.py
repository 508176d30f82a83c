"""NIfTI volumes (2-D, 3-D, 4-D) in, slices out, and the same volume written back.

Slices are shown the radiological-viewer way: for a slice along ``axis`` the two remaining
voxel axes (i, j) become (rows, cols) = (j reversed, i), i.e. ``slice.T[::-1]``, so an RAS
axial slice has anterior up. :func:`slice_from_display` undoes it exactly.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from medinpaint.errors import MedinpaintError
from medinpaint.io.atomic import atomic_write

__all__ = ["NiftiSource", "is_volume_file", "nifti_voxel_mm", "read_nifti", "tissue_fraction", "extract_slices", "slice_from_display", "stack_to_volume", "write_nifti_like"]

NIFTI_SUFFIXES = (".nii", ".nii.gz")  # one file: what results are written as
NIFTI_PAIR_SUFFIXES = (".hdr", ".img")  # a NIfTI pair: the header file and the image file beside it
OTHER_VOLUME_SUFFIXES = (".mgh", ".mgz", ".mnc", ".par", ".rec")  # nibabel reads them; refused with the conversion to NIfTI
OTHER_FORMATS = {  # nibabel's image classes that are not NIfTI, as an error names them
    "AnalyzeImage": "an Analyze 7.5 image", "Spm99AnalyzeImage": "an Analyze 7.5 (SPM99) image",
    "Spm2AnalyzeImage": "an Analyze 7.5 (SPM2) image", "MGHImage": "a FreeSurfer MGH image", "Minc1Image": "a MINC 1 image",
    "Minc2Image": "a MINC 2 image", "PARRECImage": "a Philips PAR/REC image",
}


@dataclass(frozen=True)
class NiftiSource:
    """Where slices came from in a NIfTI file.

    Attributes:
        path: the file.
        axis: slicing axis (0, 1 or 2) of the 3-D volume.
        volume_index: 4-D volume index (0 for 2-D/3-D).
        shape: the file's full shape.
        affine: the file's affine (4, 4).
    """

    path: Path
    axis: int
    volume_index: int
    shape: tuple[int, ...]
    affine: np.ndarray

    @property
    def voxel_mm(self) -> tuple[float, float, float]:
        """The voxel size in mm along the first three array axes (nibabel's ``voxel_sizes`` of the affine).

        Example:
            >>> from medinpaint.data import sample_path
            >>> read_nifti(sample_path())[1].voxel_mm
            (1.0, 1.0, 1.0)
        """
        return _voxel_mm(self.affine)


def _voxel_mm(affine: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(v) for v in nib.affines.voxel_sizes(affine)[:3])


def is_volume_file(path: str | Path) -> bool:
    """Whether ``path`` names a NIfTI file (.nii, .nii.gz) or pair (.hdr/.img), or a volume format that
    nibabel reads and :func:`read_nifti` refuses with the conversion to NIfTI (MGH, MINC, PAR/REC).

    Example:
        >>> is_volume_file("t1.nii.gz"), is_volume_file("T1.HDR"), is_volume_file("brain.mgz"), is_volume_file("slice.png")
        (True, True, True, False)
    """
    return str(path).lower().endswith(NIFTI_SUFFIXES + NIFTI_PAIR_SUFFIXES + OTHER_VOLUME_SUFFIXES)


def _load(path: Path) -> nib.Nifti1Pair:
    """The NIfTI image (a single file or a pair) at ``path``; any other format is refused with its conversion."""
    try:
        image = nib.load(str(path))
    except Exception as err:  # nibabel raises many types for damaged files
        raise MedinpaintError(f"cannot read {path}: {err}; check the file is a complete NIfTI (.nii, .nii.gz, or a .hdr with its .img)") from err
    if isinstance(image, nib.Cifti2Image):
        raise MedinpaintError(f"{path.name} is a CIFTI-2 file (data on brain coordinates, not an image grid): give a NIfTI image")
    if not isinstance(image, nib.Nifti1Pair):  # a NIfTI file is a NIfTI pair stored in one file
        stem = path.name.split(".")[0]
        kind = OTHER_FORMATS.get(type(image).__name__, f"a {type(image).__name__}")
        raise MedinpaintError(
            f"{path.name} is {kind}, not NIfTI: convert it first, e.g. "
            f"python -c \"import nibabel as nib; nib.save(nib.load('{path.name}'), '{stem}.nii.gz')\", and check its orientation"
        )
    data_file = Path(image.file_map["image"].filename)
    if not data_file.is_file():
        raise MedinpaintError(f"NIfTI header {path.name} has no image file {data_file.name} beside it: keep the pair's .hdr and .img together")
    return image


def nifti_shape(path: str | Path) -> tuple[int, ...]:
    """The shape of a NIfTI file, read from its header only.

    Raises:
        MedinpaintError: the file is not a readable NIfTI file.

    Example:
        >>> from medinpaint.data import sample_path
        >>> nifti_shape(sample_path())
        (197, 233, 189)
    """
    return tuple(int(s) for s in _load(Path(path)).shape)


def nifti_voxel_mm(path: str | Path) -> tuple[float, float, float]:
    """The voxel size in mm along the first three array axes of a NIfTI file, from its header only.

    Example:
        >>> from medinpaint.data import sample_path
        >>> nifti_voxel_mm(sample_path())
        (1.0, 1.0, 1.0)
    """
    return _voxel_mm(_load(Path(path)).affine)


def read_nifti(path: str | Path, volume_index: int = 0, axis: int = 2) -> tuple[np.ndarray, NiftiSource]:
    """Read one 3-D volume (float32, scaled to native units) of a 2-D/3-D/4-D NIfTI file.

    Args:
        path: .nii or .nii.gz file, or either file of a .hdr/.img pair.
        volume_index: which volume of a 4-D file.
        axis: slicing axis, 0, 1 or 2 (a 2-D image has one slice along axis 2).

    Returns:
        ``(volume (X, Y, Z) float32, source)``.

    Raises:
        MedinpaintError: unreadable file, unsupported dimensions, bad volume index or axis,
            non-finite voxels (says how many and where the first is).

    Example:
        >>> from medinpaint.data import sample_path
        >>> volume, source = read_nifti(sample_path())
        >>> volume.shape, source.axis
        ((197, 233, 189), 2)
    """
    path = Path(path)
    image = _load(path)
    shape = tuple(int(s) for s in image.shape)
    if axis not in (0, 1, 2):
        raise MedinpaintError(f"slicing axis must be 0, 1 or 2, got {axis}")
    if len(shape) == 2 or (len(shape) == 3 and axis != 2 and shape[2] == 1):
        shape3 = (*shape[:2], 1)
        axis = 2
    elif len(shape) in (3, 4):
        shape3 = shape[:3]
    else:
        raise MedinpaintError(f"NIfTI {path.name} has shape {shape}: only 2-D, 3-D or 4-D images are supported")
    n_volumes = shape[3] if len(shape) == 4 else 1
    if not 0 <= volume_index < n_volumes:
        raise MedinpaintError(f"volume index {volume_index} out of range: {path.name} holds {n_volumes} volume(s)")
    stored = image.get_data_dtype()
    if stored.fields is not None or stored.kind == "c":  # RGB/RGBA voxels, or complex ones (magnitude and phase)
        kind = "complex" if stored.kind == "c" else "colour (RGB)"
        raise MedinpaintError(f"NIfTI {path.name} holds {kind} voxels ({stored}): give a greyscale, real-valued image (e.g. the magnitude)")
    try:
        data = image.dataobj[..., volume_index] if len(shape) == 4 else image.dataobj[...]
    except (OSError, EOFError, ValueError, zlib.error) as err:  # a truncated or damaged file: the header read, the voxels not
        raise MedinpaintError(f"cannot read the voxels of {path.name} ({' '.join(str(err).split())}): the file is damaged or cut short; copy it again") from err
    volume = np.asarray(data, dtype=np.float32).reshape(shape3)
    bad = ~np.isfinite(volume)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise MedinpaintError(
            f"NIfTI {path.name} holds {int(bad.sum())} non-finite voxel(s) (NaN/inf), first at voxel {first}: "
            "replace them (e.g. with 0) before inpainting"
        )
    return volume, NiftiSource(path, axis, volume_index, shape, np.asarray(image.affine))


def tissue_fraction(volume: np.ndarray, axis: int) -> np.ndarray:
    """Fraction of voxels above the volume minimum (background) in each slice along ``axis``.

    Example:
        >>> v = np.zeros((4, 4, 3)); v[:2, :, 1] = 5
        >>> tissue_fraction(v, 2).tolist()
        [0.0, 0.5, 0.0]
    """
    above = np.moveaxis(volume > volume.min(), axis, -1)
    return above.reshape(-1, above.shape[-1]).mean(axis=0)


def extract_slices(
    volume: np.ndarray, axis: int, slices: Sequence[int] | None = None
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Take slices along ``axis`` in display orientation.

    Args:
        volume: (X, Y, Z).
        axis: slicing axis.
        slices: indices; None = every slice holding tissue (not all background).

    Returns:
        ``(stack (N, 1, H, W) float32, indices)``.

    Raises:
        MedinpaintError: an index out of range, or no slice holds tissue.

    Example:
        >>> stack, idx = extract_slices(np.ones((5, 4, 3)), 2, [0, 2])
        >>> stack.shape, idx
        ((2, 1, 4, 5), (0, 2))
    """
    count = volume.shape[axis]
    if slices is None:
        indices = tuple(int(i) for i in np.flatnonzero(tissue_fraction(volume, axis) > 0))
        if not indices:
            raise MedinpaintError("no slice holds tissue (the volume is constant): pass the slice indices")
    else:
        indices = tuple(int(i) for i in slices)
        wrong = [i for i in indices if not 0 <= i < count]
        if wrong or not indices:
            raise MedinpaintError(
                f"slice indices {wrong or 'empty'} out of range: "
                f"axis {axis} has {count} slices (0..{count - 1})"
            )
    moved = np.moveaxis(volume, axis, 0)
    stack = np.stack([moved[i].T[::-1] for i in indices])[:, None]
    return np.ascontiguousarray(stack, dtype=np.float32), indices


def slice_from_display(image: np.ndarray) -> np.ndarray:
    """Inverse of the display orientation: (H, W) -> the volume's (i, j) slice.

    Example:
        >>> a = np.arange(6).reshape(2, 3)
        >>> bool((slice_from_display(a.T[::-1]) == a).all())
        True
    """
    return image[::-1].T


def stack_to_volume(stack: np.ndarray, axis: int) -> np.ndarray:
    """Inverse of :func:`extract_slices` for ALL of a volume's slices: (N, 1, H, W) display-oriented -> the volume, slices along ``axis``.

    Example:
        >>> volume = np.arange(60.0).reshape(5, 4, 3)
        >>> bool((stack_to_volume(extract_slices(volume, 1, range(4))[0], 1) == volume).all())
        True
    """
    return np.moveaxis(np.stack([slice_from_display(plane) for plane in np.asarray(stack)[:, 0]]), 0, axis)


def write_nifti_like(
    source: NiftiSource, native: np.ndarray, read: np.ndarray, indices: Sequence[int], out_path: Path, overwrite: bool = False
) -> Path:
    """Write the source file with slices ``indices`` replaced by ``native`` (N, 1, H, W).

    Same affine, header and on-disk dtype (integers rounded and clipped; the header's
    scl_slope/scl_inter are kept and applied in reverse). Only the voxels whose value differs from
    ``read`` (N, 1, H, W: the same slices as :func:`read_nifti` read them) are written: the others keep
    their stored bits, whatever the dtype's precision beyond float32 (a 64-bit integer, a float64).

    Raises:
        MedinpaintError: the output exists (and not ``overwrite``).
    """
    image = _load(source.path)
    raw = np.asanyarray(image.dataobj.get_unscaled()).copy()
    dtype = raw.dtype
    slope, inter = image.dataobj.slope, image.dataobj.inter
    view = raw[..., source.volume_index] if len(source.shape) == 4 else raw
    view = view.reshape((*view.shape[:2], -1))
    for index, slice_native, slice_read in zip(indices, np.asarray(native, dtype=np.float32)[:, 0], np.asarray(read, dtype=np.float32)[:, 0]):
        plane = slice_from_display(slice_native)
        changed = plane != slice_from_display(slice_read)  # the rest keep their stored bits (any dtype's precision)
        values = (plane[changed].astype(np.float64) - inter) / slope
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            values = np.clip(np.rint(values), info.min, info.max)
        np.moveaxis(view, source.axis, 0)[index][changed] = values.astype(dtype)
    header = image.header.copy()
    image_class = nib.Nifti2Image if isinstance(image, nib.Nifti2Image) else nib.Nifti1Image
    out = image_class(raw, image.affine, header)
    out.header.set_slope_inter(slope, inter)
    out.set_data_dtype(dtype)

    def write(tmp: Path) -> None:
        nib.save(out, str(tmp))

    return atomic_write(out_path, write, overwrite)


def write_nifti_map(source: NiftiSource, planes: np.ndarray, slices: Sequence[int], out_path: Path, overwrite: bool) -> Path:
    """Write per-slice maps (N, H, W) in display orientation as a float32 volume on ``source``'s grid.

    Slices not listed are zero (e.g. the uncertainty of a fill is zero where nothing was filled).
    """
    volume = np.zeros(source.shape[:3], np.float32)
    for plane, index in zip(planes, slices):
        np.moveaxis(volume, source.axis, 0)[index] = slice_from_display(plane)
    return atomic_write(Path(out_path), lambda tmp: nib.save(nib.Nifti1Image(volume, source.affine), str(tmp)), overwrite)
