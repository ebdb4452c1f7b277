"""Built-in datasets (registration only: light, no torch import)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from facerecon import hookimpl, param


@dataclass(frozen=True)
class ImagesParams:
    """Parameters of the ``images`` dataset."""

    input: Optional[str] = param(
        None,
        "An image file, a folder of images (sorted by name) or a quoted glob pattern such as "
        "'photos/*.jpg'; unset: the astronaut photo shipped with scikit-image (skimage.data.astronaut).",
    )
    recursive: bool = param(
        False, "Also look into sub-folders of a folder input; lets '**' in a glob match any depth."
    )


@hookimpl
def facerecon_register_components(registry):
    """Register the built-in datasets."""
    registry.register("dataset", "images", params=ImagesParams,
                      factory="plugins.datasets.images:ImagesDataset",
                      summary="photos from a file, a folder or a glob (default: scikit-image's astronaut)")
