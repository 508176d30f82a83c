"""The longer help texts of the ``medinpaint`` command line (one place, so that cli.py stays thin).

Plain strings only: importing this module costs nothing, and ``--help`` stays instant.
"""

MASK_HELP = (
    "Mask: a file (PNG, or NIfTI for a volume) in which NONZERO marks the region to fill, as in "
    "lesion-filling tools; or a generated kind on the 64×64 grid ([...] is optional): quarter (centred "
    "box, 25 % of the image); box:SIZE (centred SIZE×SIZE box); centre[:MAX] (centred box, height and "
    "width drawn from 1..MAX, default 12); random-box[:MAX] (box anywhere, height and width drawn "
    "from 8..MAX, default 32); dropout[:RATE] (random pixels removed, fraction RATE, default 0.8); "
    "half[:left|right|top|bottom] (default left); pattern[:PERIOD] (2-pixel-wide lines every PERIOD "
    "pixels in both directions, default 8). Random kinds follow --seed. "
    "Inside medinpaint a mask is float with 1 = known, 0 = missing. The values in the region a mask file marks "
    "do not set the intensity scale: an MR scale comes from the voxels outside it, so the lesion itself, zeros "
    "or a fill value there give the same fill (a generated mask cuts a whole image, scaled as a whole). "
    "For DICOM inputs the mask may also be a DICOM-SEG, an RTSTRUCT or a label-map DICOM of the same "
    "images; NIfTI and DICOM label maps may hold any number of labels (pick them with --label)."
)

CHECKPOINT_HELP = (
    "DCGAN checkpoint file, or a shipped model by name: brain_mri (default: the window prior and the fill network "
    "trained on the embedded MNI152 T1) or brain_mri_slices (the 0.1.0 whole-slice model)."
)
METHOD_HELP = (
    "network: the checkpoint's posterior-mean fill network (a U-Net that corrects the biharmonic fill of the hole, "
    "trained on the same MNI152 windows; whole slices at native resolution, averaged over 8 rotations/mirrors whose "
    "spread is the uncertainty; in a 3-D volume it corrects the 3-D biharmonic fill in the slices through the hole "
    "along all three axes, one view each (all eight in a hole at least 4 voxels deep), weighted by the hole's "
    "depth along each axis); with a mask file, an MR input's three tissue classes (k-means of the voxels outside "
    "the hole) are first mapped onto the template's, and the fill back (brain_mri); "
    "--iterations, --restarts, --flip-restarts, --grid, --estimate and --blend do not apply. "
    "search: the paper's method (Yeh et al. 2017), the DCGAN latent search and Poisson blend. "
    "auto: network when the checkpoint carries one (brain_mri does), else search."
)
GRID_CHECKPOINT_HELP = (
    "DCGAN checkpoint file or shipped model name for the 64×64 slice-grid experiments; default: brain_mri_slices "
    "(the whole-slice model trained for that grid)."
)
GRID_HELP = (
    "How slices reach the 64×64 generator: windows (a square window around each hole, sized to the hole, "
    "at native resolution or coarser), slices (each whole slice squeezed onto the grid, the paper's protocol), "
    "or auto (what the checkpoint was trained for)."
)

FILL_HELP = (
    "How a volume's holes are filled: 3d (along all three axes, from the known voxels around the hole in 3-D; "
    "--method network: every slice through the hole corrects the 3-D biharmonic fill and the three axes are "
    "averaged, each weighted by the hole's depth along it; thick slices (voxels at least 1.5× longer along an "
    "axis than the finest, or than the model's 1 mm) are split around the hole into near-isotropic voxels, "
    "filled there and averaged back; voxels finer than the model's (1 mm / 1.15 or less, i.e. 0.87 mm) are filled around the hole "
    "on the model's voxels, the network's correction brought back onto the volume's own 3-D biharmonic fill; "
    "whole missing slices (a mask that covers all of a slice: a dropped or corrupted slice) are filled from the "
    "slices beside them, under --method network only; "
    "--method search: the axes' fills are fused through "
    "their gradients (each direction's from the fills whose slices contain it) in one exact 3-D Poisson solve; continuous through-plane; a 3-D NIfTI volume, or a DICOM series or multi-frame "
    "file whose frames are evenly spaced in one orientation, with a mask file), "
    "slices (each slice along --axis on its own, 2-D: the 0.1.0 behaviour), or auto (for such a volume and mask file: 3d "
    "under --method network, even for a hole on one slice, whose 3-D fill reads the slices above and below; under "
    "--method search, 3d when a hole spans neighbouring slices; slices otherwise)."
)

INPAINT_MANY_HELP = (
    "Fill many (input, mask) pairs with inpaint's options; OUT_DIR/report.csv says ok, failed or skipped per pair, "
    "with what was filled (and inpaint's notes) or the error. "
    "A pair whose output exists is skipped, so a second run resumes (--overwrite fills it again); a broken pair is "
    "reported and the others go on. Exit status 1 when any pair failed, 2 for a bad table or option (nothing filled). "
    "Sharded: torchrun --nproc_per_node N -m medinpaint inpaint-many ... (each process loads the model once and fills "
    "every N-th pair; rank 0 writes the report). Extra outputs (--raw, --uncertainty, --panel) are per file: use inpaint."
)

BRAIN_MASK_HELP = (
    "Mask file of the input's brain (NIfTI/PNG/DICOM as --mask; nonzero / every segment = brain), e.g. from BET, SynthStrip, "
    "HD-BET or ROBEX. For a head with its skull: the guides (--mirror's plane and mirror image, the template's placement) read "
    "only the brain, not the skull and scalp; the network's fill is the same with or without it, the fill is not confined to it "
    "and the output keeps the whole head. Default: the brain --find-brain finds in a head with its skull, else every known voxel "
    "(a skull-stripped input needs none). Not with --no-mirror."
)

FIND_BRAIN_HELP = (
    "Without --brain-mask, in an MR volume (NIfTI, DICOM series; all of it, also when --slices chooses some): find the brain with deepbet (its network ships "
    "in its wheel; about 3 s on 2 CPU cores) and, when the volume is a whole head with its skull (a brain of 600-2500 mL with at "
    "least 20 % of the head's tissue outside it), let the guides read only that brain and the hole, as --brain-mask does. A "
    "skull-stripped volume, a crop or a slab is read as before; the report says what was found."
)

SCORE_PROTOCOL_HELP = (
    "brats: the BraTS-Inpainting 2023 score. Prediction and truth are zeroed outside the hole, clipped to the "
    "0.5-99.5 percentiles of all voxels of the voided input (low raised to 0) and scaled to [0, 1]; SSIM = mean "
    "over the hole of the torchmetrics SSIM map (11x11 Gaussian, 2-D on each slice along the first axis); MSE, "
    "MAE and PSNR over the hole voxels, PSNR range = max-min of the normalised truth in the hole (prediction "
    "clamped to it for PSNR). hole: the medinpaint protocol, in native units. span = the 0.5-99.5 percentile "
    "range of the truth; PSNR with that span; MSE and MAE in native units; SSIM = the same map on the unmasked "
    "volumes scaled by (x - p0.5)/span, data range 1, mean over the hole."
)

PRIOR_WEIGHT_HELP = (
    "Share of the model's (blended) fill in the hole, in [0, 1]; the rest is scikit-image's biharmonic fill "
    "of the same hole (2-D, or 3-D with --fill 3d). 1 = the model's fill only. Default: 1 with --method network and "
    "with --grid slices (the paper's method); 0.4 for the search on --grid windows (chosen on training slices of "
    "the template, never on held-out data)."
)

DETAIL_GAIN_HELP = (
    "The 3-D network fill only: the fine structure of a thick hole's fill is amplified by this gain (unsharp "
    "mask, σ = the model's voxel: 1 mm for the brain models, at most one voxel), because a posterior-mean fill is "
    "smoother than anatomy; holes 1–2 voxels thick are "
    "filled almost exactly and left alone, the full gain from 7 voxels thick. The gain is a noise-free volume's: it "
    "is scaled down with the input's noise, estimated on its known voxels (whole up to 1.2 %, none from 4 % of "
    "the 99.5th percentile; the report gives the gain used). 0 = the posterior mean as it is "
    "(--raw writes it). Default: 0.75, chosen on training holes of the template (higher SSIM, PSNR level), and "
    "none on the template given a real T1's noise (PSNR higher, SSIM level)."
)

MIRROR_HELP = (
    "Fit the mirror plane of the head (left-right from the NIfTI affine or DICOM orientation), fill each hole from the mirror image "
    "of the other side (corrected smoothly to meet the voxels around it) and move the fill towards it by how well that predicts the known "
    "voxels around the hole (weight 0–1, in the report; 0 keeps the network's fill). In 3-D for a volume's 3-D fill; within each slice for "
    "2-D fills (one slice, --fill slices, frames that form no volume) whose plane holds the left-right axis (axial, coronal); PNG/JPG have no "
    "geometry: not guided. Hole voxels with no mirror image get their neighbours' correction; those whose mirror is in the hole (the midline) meet "
    "the fill there (half the weight, thick holes) and, with the embedded brain model in 3-D, move towards the MNI152 template placed on "
    "the head (turned, shifted, scaled; on the image's contrast or on it reversed, as for a T2, whichever a coarse scan fits better; unused "
    "if it correlates below 0.45 with the image; weighed by the same ring, its weight times 1.5). On a real "
    "(SPM-normalised) 2 mm T1's tumour-sized holes +0.10 to +0.11 SSIM, +3.5 to +3.8 dB over biharmonic 3-D (the mirror guide alone "
    "+0.05, +1.2 to +1.4 dB; deformed 3-6 mm +0.06 to +0.10; turned 12-15° +0.09; a ±10-20 % left-right bias +0.11); in 2-D, its axial "
    "slices +0.8 to +2.5 dB over biharmonic 2-D; the real T1 remapped to T2-like / FLAIR-like contrasts +2.8 / +1.9 dB over biharmonic 3-D "
    "(docs/results.md). Not read: exact zeros (a voided region, a skull-stripped background), and outside --brain-mask: mask every other lesion, or it can be copied in. In a network fill of a volume (3-D, or slice by slice with --fill slices) or of a slice with a geometry (a DICOM frame), exact zeros within 8 mm of a hole whose mirror image is tissue (a voided region, not background) are filled with the hole and kept at 0 (the report counts them). --no-mirror: the network alone."
)

COPY_CHECK_HELP = (
    "2-D fills by the fill network (one slice or image, --fill slices, frames that form no volume): hide copies of the hole "
    "beside it in the image's own known pixels, fill them with the network and with biharmonic filling, and weigh the "
    "network's correction of the biharmonic fill by the least-squares weight (0-1) that best reproduces them (in the report; "
    "1 = the network's fill, 0 = biharmonic). It turns the correction down where the image is unlike what the model learned "
    "(the brain model on the DICOM test images whose header says they are not a head MR: hole MAE 1.35 / 1.59 times "
    "biharmonic's with a box / 50 % dropout unchecked, 1.14 / 1.13 checked, geometric means; a shoulder MR's box, the one clear "
    "win, is lost) and leaves brain slices level (on a real T1's slices -0.10 to 0 dB on the means). Exact zeros are never "
    "hidden. The 3-D fill of a volume is not checked. --no-copy-check: the network's fill as it is."
)

UNCERTAINTY_HELP = (
    "Also write the per-pixel spread of the fill: over the 8 symmetry views (network, slices), over the three "
    "orientations (network, 3-D) or over the restarts (search): the model's own spread, before the mirror and template "
    "guides move the fill, not an error bar of the result; .nii.gz or .npy."
)
