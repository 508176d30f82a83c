"""What :func:`medinpaint.file_inpainting.inpaint_file` did to a file: the report that the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medinpaint.inpainting.brain_extraction import FoundBrain
from medinpaint.inpainting.mirror_guide import SLICES_SHOWN, MirrorGuide, SliceMirrorGuides

__all__ = ["FileInpaintReport"]


@dataclass(frozen=True)
class FileInpaintReport:
    """What :func:`~medinpaint.file_inpainting.inpaint_file` did.

    Attributes:
        input: the input path.
        outputs: every file written, by role (``output``, ``raw``, ``uncertainty``, ``panel``).
        slices: indices of the slices (NIfTI) or frames (DICOM) that were filled.
        missing_pixels: native missing pixels per filled slice.
        loss: final search objective per filled slice (empty when nothing was filled).
        iterations: Adam steps per filled slice.
        seconds: wall time.
        fill_grid: how the 3-D network fill split each voxel axis for a finer, near-isotropic
            grid (:mod:`medinpaint.inpainting.fill_grid`); (1, 1, 1) = filled on the input's own grid.
        model_grid: the zoom per axis onto the model's voxels for an input of finer voxels (the 3-D
            network fill ran there); None = not resampled.
        detail_gain: the 3-D network fill's detail gain after the scaling for the input's noise
            (:func:`medinpaint.inpainting.detail.noisy_gain`); None for other fills.
        tissue_classes: the input's three tissue class means (native units) that the network fill
            mapped onto the template's (:mod:`medinpaint.tissue_contrast`); None = the percentile scale.
        mirror: the mirror plane and each hole's weight of its mirror-guided fill: the 3-D fill's (:mod:`~medinpaint.inpainting.mirror_guide`,
            with the template guide's: :mod:`~medinpaint.inpainting.template_guide`), or each slice's for 2-D fills; None = not guided.
        brain_voxels: the brain mask's voxels in the slices read (``--brain-mask``); None = no brain mask.
        method: ``"network"`` (the fill network: no search, so no iterations or loss per slice) or
            ``"search"`` (the latent search); None when nothing was filled.
        notes: what the user should know about the fill (e.g. a DICOM header that says the image is not
            what the model learned), printed as ``note:`` lines.
        correction_weights: per filled slice, the weight of the network's correction that the copy check
            chose (:mod:`medinpaint.inpainting.copy_check`; 2-D network fills); None = not checked.
        found_brain: the brain deepbet found for the guides (``--find-brain``,
            :mod:`medinpaint.inpainting.brain_extraction`); None = not looked for (a brain mask given,
            ``--no-mirror``, ``--no-find-brain``, or not every slice of a volume).
    """

    input: Path
    outputs: dict[str, Path]
    slices: tuple[int, ...]
    missing_pixels: tuple[int, ...]
    loss: tuple[float, ...]
    iterations: tuple[int, ...]
    seconds: float
    fill_grid: tuple[int, int, int] = (1, 1, 1)
    detail_gain: float | None = None
    model_grid: tuple[float, float, float] | None = None
    tissue_classes: tuple[float, float, float] | None = None
    mirror: MirrorGuide | SliceMirrorGuides | None = None
    brain_voxels: int | None = None
    method: str | None = None
    notes: tuple[str, ...] = ()
    correction_weights: tuple[float, ...] | None = None
    found_brain: FoundBrain | None = None

    def __str__(self) -> str:
        if not self.slices:
            lines = [f"{self.input}: the mask marks no pixel to fill; the output is a copy of the input"]
        else:
            lines = [f"{self.input}: filled {len(self.slices)} slice(s) in {self.seconds:.1f} s"]
            if self.method == "search":
                lines.append("slice  missing px  iterations  loss")
                lines += [f"{s:>5}  {m:>10}  {i:>10}  {l:.4f}" for s, m, i, l in zip(self.slices, self.missing_pixels, self.iterations, self.loss)]
            else:
                lines.append("slice  missing px")
                lines += [f"{s:>5}  {m:>10}" for s, m in zip(self.slices, self.missing_pixels)]
            if self.fill_grid != (1, 1, 1):
                lines.append("filled on a finer grid: each voxel split {} × {} × {}, then averaged back".format(*self.fill_grid))
            if self.model_grid is not None:
                lines.append("filled on the model's voxels: axes zoomed {:.2f} × {:.2f} × {:.2f}, the correction brought back".format(*self.model_grid))
            if self.detail_gain is not None:
                lines.append(f"detail gain {self.detail_gain:.2g} (--detail-gain, scaled for the input's noise)")
            if self.brain_voxels is not None:
                lines.append(f"brain mask (--brain-mask): {self.brain_voxels} voxels; the guides read only there")
            if self.found_brain is not None:
                lines.append(f"brain (--find-brain): {self.found_brain}")
            if self.tissue_classes is not None:
                lines.append("tissue classes {:.5g}, {:.5g}, {:.5g} mapped onto the template's for the network".format(*self.tissue_classes))
            if self.correction_weights is not None:
                lines.append(self._copy_check_line())
            if self.mirror is not None:
                lines.append(f"mirror guide (--mirror): {self.mirror}")
        lines += [f"note: {note}" for note in self.notes]
        lines += [f"{role}: {path}" for role, path in self.outputs.items()]
        return "\n".join(lines)

    def _copy_check_line(self) -> str:
        """The copy check's weights, slice by slice (the first :data:`SLICES_SHOWN`)."""
        weights = self.correction_weights
        shown = ", ".join(f"slice {s}: {w:.2f}" for s, w in zip(self.slices[:SLICES_SHOWN], weights))
        more = f" (+{len(weights) - SLICES_SHOWN} more slices)" if len(weights) > SLICES_SHOWN else ""
        return f"copy check (--copy-check): the network's correction weighted {shown}{more} (1 = the network's fill, 0 = biharmonic)"
