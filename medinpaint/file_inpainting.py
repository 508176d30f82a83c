"""Inpaint a file: a slice, series or volume and a mask in, the same format out.

The fill comes from the checkpoint's posterior-mean fill network at native resolution (the
default when the checkpoint carries one) or from the paper's latent search on the 64×64 grid,
whose raw fill G(ẑ) is mapped back to the input's resolution and units and blended there.
Either way every known native pixel stays bit-identical and only missing pixels change.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from medinpaint import __version__
from medinpaint.checkpoint import LoadedModels, load_models
from medinpaint.device import pick_device
from medinpaint.errors import MedinpaintError
from medinpaint.file_report import FileInpaintReport
from medinpaint.fill_modes import fill_mode, fills_in_3d, stack_axis, volume_directions, volume_origin, volume_voxel_mm
from medinpaint.head_brain import head_brain
from medinpaint.inpainting import BLEND_METHODS, SearchConfig
from medinpaint.inpainting.detail import default_detail_gain
from medinpaint.inpainting.search import ESTIMATES
from medinpaint.inpainting.shrinkage import check_prior_weight
from medinpaint.io.atomic import atomic_write, check_output_path
from medinpaint.io.dicom import DicomSource, dicom_domain
from medinpaint.io.dicom_anatomy import not_head_mr
from medinpaint.io.images import ImageSource, check_png_result
from medinpaint.io.nifti import NiftiSource, is_volume_file, nifti_shape, write_nifti_map
from medinpaint.mask_files import Label, dilate_known, load_brain_mask
from medinpaint.masks import check_mask, make_mask
from medinpaint.native_inpainting import GRIDS, check_method, default_grid, default_method, default_prior_weight, inpaint_native
from medinpaint.pipeline import LoadedSlices, check_output_suffix, fill_intensity, load_mask, load_slices, save_like
from medinpaint.slice_mirror import guide_native_fill, keep_voided, voided_beside_frames
from medinpaint.tissue_contrast import TissueIntensityToUnit, tissue_intensity
from medinpaint.transforms.array import IntensityToUnit, SquareResize
from medinpaint.volume_inpainting import inpaint_stack_3d
from medinpaint.windows import WindowConfig

__all__ = ["DEFAULT_RESTARTS", "VOLUME_RESTARTS", "FileInpaintReport", "inpaint_file", "native_known_mask"]

# the CLI's restarts: slice by slice, and per orientation of the 3-D fill, whose three orientations
# are averaged as well (on training cases 2 scored as 4 there, at half the time: docs/training.md)
DEFAULT_RESTARTS, VOLUME_RESTARTS = 4, 2

MASK_FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".nii", ".nii.gz", ".hdr", ".img", ".dcm")


def _is_mask_file(spec: str) -> bool:
    return spec.lower().endswith(MASK_FILE_SUFFIXES) or os.path.sep in spec or Path(spec).exists()


def native_known_mask(
    spec: str, loaded: LoadedSlices, seed: int = 0, *, label: Label = None, dilate_mm: float = 0.0
) -> torch.Tensor:
    """The known mask (N, 1, H, W) of ``loaded``'s native slices, 1 = known, 0 = missing.

    Args:
        spec: a mask file (nonzero / the segment = fill; PNG, NIfTI, DICOM-SEG, RTSTRUCT, label
            maps) or a generated kind on the 64×64 grid (see :func:`medinpaint.masks.make_mask`),
            mapped to native resolution with the image's geometry.
        loaded: the slices the mask belongs to.
        seed: seed of random mask kinds (the same mask for every slice).
        label: segments / ROIs (number or name) or label values of a mask file; None = all.
        dilate_mm: grow the region to fill by this distance in mm (spacing-aware; 0 = none).

    Example:
        >>> from pydicom.data import get_testdata_file
        >>> loaded = load_slices(get_testdata_file("CT_small.dcm"))
        >>> known = native_known_mask("quarter", loaded)
        >>> tuple(known.shape), float(1 - known.mean())
        ((1, 1, 128, 128), 0.25)
    """
    if _is_mask_file(spec):
        return load_mask(spec, loaded, label=label, dilate_mm=dilate_mm)
    if label is not None:
        raise MedinpaintError(f"--label {label} picks regions of a mask file, but {spec!r} is a generated mask: drop --label")
    grid = make_mask(spec, generator=torch.Generator().manual_seed(seed), size=loaded.record.size)
    native = SquareResize(loaded.record.size).inverse(grid, loaded.record.native_size)
    known = dilate_known((native > 0.5).float(), loaded, dilate_mm)
    return known.expand(loaded.native.shape[0], -1, -1, -1).contiguous()


def _load_input(
    input_path: Path, mask: str, models: LoadedModels, slices, axis: int, volume_index: int
) -> LoadedSlices:
    options = {"domain": models.domain, "axis": axis, "volume_index": volume_index, "normalisation": models.normalisation, "channels": models.channels}
    if slices is None and _is_mask_file(mask) and is_volume_file(input_path):
        shape = nifti_shape(input_path)
        if len(shape) >= 3 and 0 <= axis < 3:
            slices = range(shape[axis])  # the mask file says which slices to fill
    loaded = load_slices(input_path, slices=slices, **options)
    if isinstance(loaded.source, ImageSource):  # before any work: the result is a PNG
        check_png_result(loaded.native[0].numpy(), loaded.source)
    if isinstance(loaded.source, DicomSource):
        if loaded.source.datasets[0].get("PhotometricInterpretation") == "PALETTE COLOR":
            raise MedinpaintError(
                f"{input_path.name} is PALETTE COLOR: its pixels are indices into a colour table, not intensities, so "
                "no fill between them means anything: convert it to RGB (pydicom.pixels.apply_color_lut) or give a greyscale image"
            )
        try:
            stated = dicom_domain(loaded.source.datasets[0])
        except MedinpaintError:
            stated = models.domain  # another modality: nothing says the model is wrong
        if stated != models.domain:
            raise MedinpaintError(
                f"{input_path.name} is a {stated.upper()} image but checkpoint {models.path.name} is a "
                f"{models.domain!r} model: pass --checkpoint with a model trained on {stated} images "
                f"(medinpaint train --config {stated})"
            )
    if loaded.native.shape[1] != models.channels:
        raise MedinpaintError(
            f"{input_path.name} has {loaded.native.shape[1]} channel(s) but checkpoint {models.path.name} makes "
            f"{models.channels}: pass a checkpoint trained on {loaded.native.shape[1]}-channel images"
        )
    return loaded


def _anatomy_notes(input_path: Path, loaded: LoadedSlices, models: LoadedModels) -> tuple[str, ...]:
    """A note when the model learned the embedded brain MR and the input's DICOM header says it shows
    something else (:func:`~medinpaint.io.dicom_anatomy.not_head_mr`): the fill is then out of what it learned."""
    shown = not_head_mr(loaded.source.datasets[0]) if isinstance(loaded.source, DicomSource) else None
    if models.config.data != "embedded" or shown is None:
        return ()
    return (
        f"{input_path.name} says {shown}, and {models.path.name} learned brain MR (the embedded MNI152 T1): on "
        "other anatomy its fill can be worse than a classical fill (docs/results.md, \"Other anatomy\"); for such "
        "images, train a prior on them (medinpaint train --config folder)",
    )


def _write_uncertainty(path: Path, spread: np.ndarray, loaded: LoadedSlices, slices: tuple[int, ...], overwrite: bool) -> Path:
    """Write the per-pixel spread (N, H, W) in native units: ``.npy``, or NIfTI on the input's grid."""
    if path.name.lower().endswith(".npy"):
        return atomic_write(path, lambda tmp: np.save(tmp, spread), overwrite)
    source = loaded.source
    if not (path.name.lower().endswith((".nii", ".nii.gz")) and isinstance(source, NiftiSource) and len(source.shape) >= 3):
        raise MedinpaintError(f"--uncertainty {path.name}: use .npy (or .nii.gz when the input is a NIfTI volume)")
    return write_nifti_map(source, spread, slices, path, overwrite)


def _write_panel(
    path: Path, loaded: LoadedSlices, slices: tuple[int, ...], native, known, raw, blended, spread, overwrite: bool, raw_label: str
) -> Path:
    """PNG rows (at most 6 filled slices) of input | mask | raw (``raw_label``) | result | uncertainty, native resolution."""
    from medinpaint.figures import mask_to_rgb, save_panel_grid, to_rgb

    check_output_path(path, overwrite)
    to_unit = IntensityToUnit(loaded.record.low, loaded.record.high)
    rows = []
    for k in range(min(len(raw), 6)):
        rows.append([
            to_rgb(to_unit(native[k]), known[k]),
            mask_to_rgb(known[k]),
            to_rgb(to_unit(raw[k])),
            to_rgb(to_unit(blended[k])),
            to_rgb(spread[k : k + 1] / max(float(spread.max()), 1e-8) * 2 - 1),
        ])
    return save_panel_grid(
        path,
        rows,
        row_labels=[f"slice {slices[k]}" for k in range(len(rows))],
        col_labels=["input (missing red)", "mask (fill = white)", raw_label, "result", "uncertainty"],
        title=f"medinpaint {__version__}: {loaded.path.name}",
    )


def inpaint_file(
    input_path: str | os.PathLike,
    mask: str,
    output_path: str | os.PathLike,
    *,
    checkpoint: str | os.PathLike | None = None,
    slices=None,
    axis: int = 2,
    volume_index: int = 0,
    search: SearchConfig = SearchConfig(),
    method: str = "auto",
    grid: str = "auto",
    fill: str = "auto",
    estimate: str = "mean",
    windowing: WindowConfig = WindowConfig(),
    blend_method: str = "poisson",
    prior_weight: float | None = None,
    detail_gain: float | None = None,
    volume_restarts: int | None = None,
    raw_output: str | os.PathLike | None = None,
    uncertainty_output: str | os.PathLike | None = None,
    panel_output: str | os.PathLike | None = None,
    device: str = "auto",
    overwrite: bool = False,
    progress: bool = True,
    models: LoadedModels | None = None,
    mask_label: Label = None,
    dilate_mm: float = 0.0,
    mirror: bool = True,
    brain_mask: str | os.PathLike | None = None,
    find_brain: bool = True,
    copy_check: bool = True,
) -> FileInpaintReport:
    """Fill the masked region of a DICOM, NIfTI or PNG/JPG file and write the result in its format.

    Args:
        input_path: DICOM file, multi-frame DICOM, DICOM series folder, NIfTI or PNG/JPG.
        mask: a mask file (nonzero = region to fill) or a generated kind (``quarter``,
            ``box:24``, ``dropout:0.5``, ...).
        output_path: where to write the result (a folder for a DICOM series).
        checkpoint: DCGAN checkpoint; None = the embedded brain-MRI model.
        slices: NIfTI slices / DICOM frames to consider; None = all slices the mask touches
            (mask file) or the slices holding tissue (generated mask).
        axis, volume_index: NIfTI slicing axis and 4-D volume.
        search: latent-search settings (its seed also seeds generated masks).
        method: ``"network"`` (the checkpoint's posterior-mean fill network, whole slices at
            native resolution; ``search``, ``grid``, ``estimate``, ``windowing`` and
            ``blend_method`` do not apply), ``"search"`` (the paper's DCGAN latent search) or
            ``"auto"`` (network when the checkpoint carries one: the shipped brain model does).
        grid: ``"windows"`` (square windows at each hole's scale), ``"slices"`` (each whole slice
            on the 64×64 grid, the paper's protocol) or ``"auto"`` (what the checkpoint was
            trained for: windows for the default brain model).
        fill: ``"3d"`` (fill along all three axes from the 3-D context: the network on the 3-D
            biharmonic fill, or the search's fills fused in one exact 3-D Poisson blend; a 3-D
            NIfTI volume, or a DICOM series or multi-frame file whose frames form a regular
            volume, with a mask file), ``"slices"`` (each slice along ``axis`` on its own,
            2-D) or ``"auto"`` (for such a volume: 3d under the network, and under the
            search when a hole spans neighbouring slices; else slices). ``blend_method`` applies to the search's slice-wise fills.
        estimate: the fill, ``"mean"`` of the restarts (the posterior-mean estimate) or the
            ``"best"`` restart.
        windowing: window settings (``grid="windows"``).
        blend_method: ``"poisson"`` (exact), ``"biharmonic"`` or ``"sobel-adam"`` (the reference implementation's approximation).
        prior_weight: share of the generator's blended fill in the hole, the rest being the
            biharmonic fill of the same hole (2-D, or 3-D for ``fill="3d"``); None = the grid's
            default (:func:`~medinpaint.native_inpainting.default_prior_weight`).
        detail_gain: the 3-D network fill's unsharp-mask gain in the hole of a noise-free volume,
            scaled down with the volume's noise (:mod:`medinpaint.inpainting.detail`); 0 = the
            network's posterior-mean fill as it is;
            None = :data:`~medinpaint.inpainting.detail.DETAIL_GAIN`. Slice-wise fills and the
            search are not sharpened.
        volume_restarts: restarts of each orientation's search in the 3-D fill; None =
            ``search.restarts``. The CLI passes :data:`VOLUME_RESTARTS` unless ``--restarts`` is given.
        raw_output, uncertainty_output, panel_output: optional extra outputs.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        overwrite: replace existing outputs (an output may never be the input itself).
        progress: show the search's progress bar.
        models: already loaded networks (then ``checkpoint`` and ``device`` are not used), to
            load a model once for many files.
        mask_label: segments / ROIs (number or name) or label values of the mask file; None = all.
        dilate_mm: grow the region to fill by this distance in mm (spacing-aware; 0 = none).
        mirror: move each hole's fill towards its fill from the mirror image of the other
            hemisphere, by how well that predicts the known voxels around the hole
            (:mod:`medinpaint.inpainting.mirror_guide`): in 3-D for the 3-D fill (with a model trained on the embedded
            template, its voxels with no mirror image also towards that template placed on the head:
            :mod:`medinpaint.inpainting.template_guide`), within each slice for 2-D fills of images whose geometry is known.
        brain_mask: a mask file of the input's brain (nonzero / every segment = brain; as ``mask``'s
            formats): the guides (``mirror``: the mirror plane and image, the template's placement) read
            only there, so that a head's skull and scalp are not; the network's fill is the same with or
            without it. None = every known voxel (a skull-stripped input), or the brain ``find_brain`` finds. Needs ``mirror``.
        find_brain: without ``brain_mask``, in every slice of an MR volume, find the brain with
            deepbet and let the guides read only there when the volume is a head with its skull
            (:mod:`medinpaint.inpainting.brain_extraction`); the report says what was found.
        copy_check: in a 2-D network fill (a lone slice or image, ``fill="slices"``), weigh each slice's
            correction by how well the network fills copies of its hole in the slice's own known pixels
            (:mod:`medinpaint.inpainting.copy_check`): towards the biharmonic fill where the image is
            unlike what the model learned. The 3-D fill is not checked.

    Returns:
        :class:`FileInpaintReport`.

    Raises:
        MedinpaintError: unreadable input or mask, shape mismatch, a mask that covers a whole
            image, or a whole slice of a volume that the fill network's 3-D fill does not fill (or
            the whole volume), a checkpoint of another domain or channel count, an output that exists.
    """
    started = time.perf_counter()
    input_path = Path(input_path)
    if not input_path.exists():
        raise MedinpaintError(f"{input_path} does not exist: check the path")
    if not _is_mask_file(mask):
        make_mask(mask)  # a bad spec fails here, before any model is loaded
    check_method(method)
    if brain_mask is not None and not mirror:
        raise MedinpaintError(f"--brain-mask {brain_mask} is what the guides read, and --no-mirror turns them off: drop one of the two")
    checked = (("grid", grid, ("auto", *GRIDS)), ("estimate", estimate, ESTIMATES), ("blend", blend_method, BLEND_METHODS))
    for name, value, choices in checked:
        if value not in choices:
            raise MedinpaintError(f"--{name} {value!r} is not one of {', '.join(choices)}: pick one of them")
    if prior_weight is not None:
        check_prior_weight(prior_weight)
    detail_gain = default_detail_gain(detail_gain)
    mode = fill_mode(fill, input_path, _is_mask_file(mask), slices)
    outputs = {
        role: Path(path)
        for role, path in (("output", output_path), ("raw", raw_output), ("uncertainty", uncertainty_output), ("panel", panel_output))
        if path is not None
    }
    for role, path in outputs.items():
        if input_path.exists() and path.resolve() == input_path.resolve():
            raise MedinpaintError(f"--{role} {path} is the input: results never replace inputs, choose another path")
        check_output_path(path, overwrite)
    for role in ("output", "raw"):
        if role in outputs:
            check_output_suffix(input_path, outputs[role])
    models = load_models(checkpoint, device=pick_device(device)) if models is None else models
    loaded = _load_input(input_path, mask, models, slices, axis, volume_index)
    known = native_known_mask(mask, loaded, seed=search.seed, label=mask_label, dilate_mm=dilate_mm)
    brain = None if brain_mask is None else load_brain_mask(brain_mask, loaded)  # a bad file fails before any work
    chosen_method = default_method(models, method)
    spacing = volume_voxel_mm(loaded) if mode != "slices" and loaded.native.shape[1] == 1 else None
    in_3d = spacing is not None and fills_in_3d(mode, known, chosen_method)
    network_3d = in_3d and chosen_method == "network"
    check_mask(known, volume=network_3d, slice_indices=loaded.slice_indices)
    todo = (known < 0.5).flatten(1).any(dim=1)
    description = f"medinpaint {__version__}: nothing filled (empty mask), copy of the input"
    if not bool(todo.any()):
        written = {"output": save_like(loaded, loaded.native, outputs["output"], overwrite=overwrite, description=description)}
        return FileInpaintReport(input_path, written, (), (), (), (), time.perf_counter() - started)
    found_brain = None
    if brain_mask is None and find_brain and mirror:
        brain, found_brain = head_brain(loaded, known, models)

    if _is_mask_file(mask):  # it marks what is not data (a lesion, voided voxels): its voxels never set the scale
        intensity = fill_intensity(loaded, known, models.normalisation)
        if chosen_method == "network":  # the input's tissue classes onto the network's
            intensity = tissue_intensity(models, loaded.native, known, intensity)
    else:  # a generated mask cuts a whole image, scaled as a whole first (the paper's protocol, the experiments)
        intensity = IntensityToUnit(loaded.record.low, loaded.record.high)
    chosen_grid = default_grid(models) if grid == "auto" else grid
    weight = default_prior_weight(chosen_grid, prior_weight, chosen_method)
    options = {"method": chosen_method, "grid": chosen_grid, "windowing": windowing, "estimate": estimate, "prior_weight": weight, "progress": progress}
    if mode == "3d" and spacing is None:
        raise MedinpaintError(
            f"--fill 3d needs one-channel frames that form a regular volume (one orientation, evenly spaced, with "
            f"PixelSpacing), and {input_path.name} does not: use --fill slices"
        )
    if in_3d:
        volume_search = search if volume_restarts is None else replace(search, restarts=volume_restarts)
        fill = inpaint_stack_3d(
            loaded.native, known, stack_axis(loaded), models, intensity, volume_search, detail_gain=detail_gain,
            spacing=spacing, directions=volume_directions(loaded) if mirror else None, origin=volume_origin(loaded) if mirror else None,
            brain=brain, **options,
        )
    else:  # voided voxels beside a hole filled with it, as the 3-D fill does (slices that form a volume, or a frame with a geometry)
        guided = mirror and loaded.native.shape[1] == 1
        voided = voided_beside_frames(loaded, known, brain)[todo] if guided else torch.zeros(known[todo].shape, dtype=torch.bool)
        fill_known = known[todo].masked_fill(voided, 0.0)
        fill = inpaint_native(loaded.native[todo], fill_known, models, intensity, search, blend_method=blend_method, copy_check=copy_check, **options)
        fill = guide_native_fill(loaded, todo, fill_known, fill, None if brain is None else brain[todo]) if mirror else fill
        fill = keep_voided(fill, loaded.native[todo], voided)
    raw_native, blended_native = fill.raw, fill.filled
    todo_known = known[todo]
    spread = fill.uncertainty[:, 0].numpy()

    full_result, full_raw = loaded.native.clone(), loaded.native.clone()
    full_result[todo], full_raw[todo] = blended_native, raw_native
    filled_slices = tuple(loaded.slice_indices[i] for i in torch.nonzero(todo).flatten().tolist())
    missing = tuple(int(m) for m in (todo_known < 0.5).flatten(1).sum(dim=1))
    sharpened = f", detail gain {fill.detail_gain:.2g}" if network_3d else ""
    how = f"posterior-mean fill network{', 3-D' if in_3d else ''}{sharpened}" if chosen_method == "network" else f"semantic inpainting (Yeh et al. 2017), {fill.windows} grid image(s), {blend_method} blend"
    description = (
        f"medinpaint {__version__}: {how}, {sum(missing)} pixels in {len(filled_slices)} slice(s), checkpoint "
        f"{models.path.name}, prior weight {weight:g}; known pixels unchanged"
    )
    raw_label = "network fill" if chosen_method == "network" else "raw G(z)"
    written = {"output": save_like(loaded, full_result, outputs["output"], overwrite=overwrite, description=description)}
    if "raw" in outputs:
        written["raw"] = save_like(loaded, full_raw, outputs["raw"], overwrite=overwrite, description=f"{description} ({raw_label})")
    if "uncertainty" in outputs:
        written["uncertainty"] = _write_uncertainty(outputs["uncertainty"], spread, loaded, filled_slices, overwrite)
    if "panel" in outputs:
        written["panel"] = _write_panel(
            outputs["panel"], loaded, filled_slices, loaded.native[todo], todo_known, raw_native, blended_native,
            torch.from_numpy(spread), overwrite, raw_label,
        )
    return FileInpaintReport(
        input_path,
        written,
        filled_slices,
        missing,
        tuple(float(v) for v in fill.loss),
        tuple(int(v) for v in fill.iterations),
        time.perf_counter() - started,
        fill.grid.split,
        fill.detail_gain if network_3d else None,
        fill.grid.zooms,
        intensity.classes if isinstance(intensity, TissueIntensityToUnit) else None,
        fill.mirror,
        None if brain_mask is None else int(brain.sum()),
        chosen_method,
        _anatomy_notes(input_path, loaded, models),
        None if fill.correction_weights is None else tuple(float(w) for w in fill.correction_weights),
        found_brain,
    )
