"""MONAI transforms: the 64×64 grid (array + dict twins), the plain maths behind them, and semantic inpainting."""

from medinpaint.transforms.array import GridRecord, IntensityToUnit, SquareResize, ToGrid
from medinpaint.transforms.dictionary import IntensityToUnitd, SquareResized, ToGridd
from medinpaint.transforms.inpaint import SemanticInpaint, SemanticInpaintd

__all__ = [
    "GridRecord",
    "IntensityToUnit",
    "SquareResize",
    "ToGrid",
    "IntensityToUnitd",
    "SquareResized",
    "ToGridd",
    "SemanticInpaint",
    "SemanticInpaintd",
]
