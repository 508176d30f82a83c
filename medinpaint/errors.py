"""The one exception type that reaches a user as a single error line.

Every check on user input (files, masks, checkpoints, options) raises :class:`MedinpaintError`
with a message that names the bad value and the fix. The CLI prints ``error: <message>`` and
exits with status 2; library users catch it like any ``ValueError``.
"""

from __future__ import annotations

__all__ = ["MedinpaintError"]


class MedinpaintError(ValueError):
    """Bad input: the message says what is wrong and how to fix it.

    Example:
        >>> try:
        ...     raise MedinpaintError("mask covers the whole image: leave some pixels known")
        ... except ValueError as err:
        ...     print(err)
        mask covers the whole image: leave some pixels known
    """
