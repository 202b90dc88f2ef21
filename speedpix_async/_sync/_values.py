"""Blocking twins of value types: objects that already hold what they describe, so the twin
shares their data and properties as they are (a common base) and differs only in its I/O
methods, which block in the calling thread — no event loop, no thread hop."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from ..portrait.images import PortraitImage as _AsyncPortraitImage
from ..portrait.images import PortraitPicture
from ._runner import register_twin

__all__ = ["PortraitImage", "portrait_image"]


@attrs.frozen(kw_only=True)
class PortraitImage(PortraitPicture):
    """A created portrait: its bytes, format and size, and ways to keep it.

    Blocking twin of :class:`~speedpix_async.PortraitImage`; saving writes from the calling
    thread.
    """

    def read(self) -> bytes:
        """The image file's bytes."""
        return self.data

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the image to ``path`` and return it. Atomic: a temporary file next to ``path``
        is renamed into place, so a failure never leaves a partial file. Refuses a directory
        and does not create missing parents."""
        return self._write(path)


def portrait_image(image: _AsyncPortraitImage) -> PortraitImage:
    """The blocking twin of a created portrait: the same values, another class."""
    shared = attrs.fields(PortraitPicture)
    fields: dict[str, Any] = {field.name: getattr(image, field.name) for field in shared}
    return PortraitImage(**fields)


register_twin(_AsyncPortraitImage, lambda image, runner: portrait_image(image))
