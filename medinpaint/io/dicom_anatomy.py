"""What a DICOM header says of the anatomy in the image, against the brain MR a shipped model learned.

A shipped model learned one thing, the embedded MNI152 T1; a user may give it any greyscale DICOM.
:func:`not_head_mr` reads the tags that say the image is something else, for the report's note
(:mod:`medinpaint.file_report`); nothing is refused on them.
"""

from __future__ import annotations

import re

from pydicom.dataset import Dataset

__all__ = ["not_head_mr"]

HEAD_BODY_PARTS = ("HEAD", "BRAIN", "SKULL", "CRAN", "CEREB")  # words of BodyPartExamined values that name the head
UNSTATED_MODALITIES = ("MR", "OT")  # an MR image, or "other" (e.g. a secondary capture): the modality says nothing against MR
OTHER_BODY_PARTS = (  # whole words of free-text descriptions that name a part other than the head (DICOM's anatomic regions)
    "ABDOMEN", "ANKLE", "ARM", "BREAST", "CARDIAC", "CAROTID", "CHEST", "CSPINE", "ELBOW", "EXTREMITY", "FEMUR", "FOOT", "HAND",
    "HEART", "HIP", "KIDNEY", "KNEE", "LEG", "LIVER", "LSPINE", "LUMBAR", "PELVIS", "PROSTATE", "SHOULDER", "SPINE", "THORAX",
    "TSPINE", "WRIST",
)
DESCRIPTION_TAGS = ("StudyDescription", "SeriesDescription", "ProtocolName")  # read when BodyPartExamined is absent


def _described_part(ds: Dataset) -> tuple[str, str] | None:
    """The first description tag and its text that names a body part other than the head, with no word of the head in any."""
    texts = {tag: " ".join(str(ds.get(tag, "") or "").split()) for tag in DESCRIPTION_TAGS}
    words = {tag: re.findall(r"[A-Z]+", text.upper()) for tag, text in texts.items()}
    if any(head in word for found in words.values() for word in found for head in HEAD_BODY_PARTS):
        return None
    return next(((tag, texts[tag]) for tag in DESCRIPTION_TAGS if any(word.removesuffix("S") in OTHER_BODY_PARTS for word in words[tag])), None)


def not_head_mr(ds: Dataset) -> str | None:
    """The tags of ``ds`` that say it is not an MR image of the head, as they read (its Modality when
    not MR, its BodyPartExamined when that names no part of the head; without a BodyPartExamined, a
    StudyDescription, SeriesDescription or ProtocolName naming another part, e.g. SHOULDER, when none
    names the head); None when none says so (a header without them, an "OT" image) or it is one.

    Example:
        >>> not_head_mr(Dataset()) is None
        True
        >>> ds = Dataset(); ds.Modality = "MR"; ds.BodyPartExamined = "ABDOMEN"
        >>> not_head_mr(ds)
        'Modality MR, BodyPartExamined ABDOMEN'
        >>> ds.Modality, ds.BodyPartExamined = "NM", "WHOLE BODY"
        >>> not_head_mr(ds)
        'Modality NM, BodyPartExamined WHOLE BODY'
        >>> ds.Modality, ds.BodyPartExamined = "MR", "HEAD"
        >>> not_head_mr(ds) is None
        True
        >>> ds = Dataset(); ds.Modality = "MR"; ds.StudyDescription = "Knees"
        >>> not_head_mr(ds)
        'Modality MR, StudyDescription Knees'
        >>> ds.SeriesDescription = "brain localiser"  # a word of the head: nothing said
        >>> not_head_mr(ds) is None
        True
    """
    modality = str(ds.get("Modality", "") or "").strip().upper()
    part = str(ds.get("BodyPartExamined", "") or "").strip().upper()
    other_modality = modality not in ("", *UNSTATED_MODALITIES)
    other_part = part != "" and not any(word in part for word in HEAD_BODY_PARTS)
    described = _described_part(ds) if part == "" else None
    if not (other_modality or other_part or described):
        return None
    tags = [("Modality", modality), ("BodyPartExamined", part), described or ("", "")]
    return ", ".join(f"{tag} {value}" for tag, value in tags if value)
