"""Readers and writers: DICOM, NIfTI, PNG/JPG and CelebA, with atomic no-overwrite writes."""
