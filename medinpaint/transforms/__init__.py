"""MONAI transforms for the 64×64 grid (array + dict twins) and the plain maths behind them."""

from medinpaint.transforms.array import GridRecord, IntensityToUnit, SquareResize, ToGrid
from medinpaint.transforms.dictionary import IntensityToUnitd, SquareResized, ToGridd

__all__ = ["GridRecord", "IntensityToUnit", "SquareResize", "ToGrid", "IntensityToUnitd", "SquareResized", "ToGridd"]
