"""Embedded data: the MNI152 T1 sample volume and its fixed slice split."""

from medinpaint.data.sample import SampleSplit, sample_path, sample_slices, sample_split

__all__ = ["SampleSplit", "sample_path", "sample_slices", "sample_split"]
