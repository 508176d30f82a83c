"""MONAI transforms: the 64×64 grid, the plain maths behind it, and semantic inpainting (array + dict twin)."""

from medinpaint.transforms.array import GridRecord, IntensityToUnit, SquareResize, ToGrid
from medinpaint.transforms.inpaint import SemanticInpaint, SemanticInpaintd

__all__ = [
    "GridRecord",
    "IntensityToUnit",
    "SquareResize",
    "ToGrid",
    "SemanticInpaint",
    "SemanticInpaintd",
]
