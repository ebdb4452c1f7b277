"""The ``images`` dataset: photos from a file, a folder or a glob pattern.

Files are listed when the dataset is built (a missing input fails early, before any model
loads) and read one at a time while iterating; a file that cannot be read becomes a sample with
``error`` set, so a batch reports it and goes on.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterator

from facerecon.errors import FaceReconError
from facerecon.imaging import ImageReadError, read_image
from facerecon.interfaces import BuildContext, Dataset, Sample

from . import ImagesParams

__all__ = ["IMAGE_EXTENSIONS", "DatasetInputError", "find_images", "skipped_subfolders", "ImagesDataset"]

#: File extensions (lower case) listed from folders and glob patterns.
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"})

_EXTENSIONS_TEXT = ", ".join(sorted(IMAGE_EXTENSIONS))


class DatasetInputError(FaceReconError, FileNotFoundError):
    """The dataset input names nothing readable: a missing path, an empty folder, a glob matching nothing."""


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def find_images(spec: str, recursive: bool = False) -> list[Path]:
    """The files an ``input`` value names, in a stable order.

    Args:
        spec: a file (taken whatever its extension), a folder (its image files, hidden files
            skipped, sorted by path) or a glob pattern (matching image files, sorted by path).
            ``~`` is expanded.
        recursive: folders: include sub-folders; globs: ``**`` matches any depth.
    Raises:
        DatasetInputError: the path does not exist, the folder holds no images, or the pattern
            matches no image.
    """
    text = os.path.expanduser(spec)
    path = Path(text)
    if path.is_file():
        return [path]
    if path.is_dir():
        entries = path.rglob("*") if recursive else path.iterdir()
        files = sorted(p for p in entries if p.is_file() and _is_image_name(p))
        if not files:
            hint = "" if recursive else " Set recursive: true to look into its sub-folders too."
            raise DatasetInputError(
                f"The input folder {path} contains no image files ({_EXTENSIONS_TEXT}).{hint}"
            )
        return files
    if any(char in text for char in "*?["):
        matches = (Path(p) for p in glob.glob(text, recursive=recursive))
        files = sorted(p for p in matches if p.is_file() and _is_image_name(p))
        if not files:
            raise DatasetInputError(
                f"The input pattern {spec!r} matches no image file ({_EXTENSIONS_TEXT}). Check the "
                "folder and the pattern; quote the pattern in the shell so that facerecon expands it"
                + ("." if recursive else ", and set recursive: true for '**' to match sub-folders.")
            )
        return files
    raise DatasetInputError(
        f"The input {spec!r} does not exist (looked for {path.resolve()}). Give an image file, a "
        "folder of images, or a quoted glob pattern such as 'photos/*.jpg'."
    )


def _unique_names(paths: list[Path]) -> list[str]:
    """File stems; a stem seen before gets ``-2``, ``-3``... so output folders never collide."""
    seen: dict[str, int] = {}
    names = []
    for path in paths:
        count = seen.get(path.stem, 0) + 1
        seen[path.stem] = count
        names.append(path.stem if count == 1 else f"{path.stem}-{count}")
    return names


def skipped_subfolders(spec: str | None, recursive: bool) -> list[Path]:
    """Sub-folders of an ``input`` folder that hold images but are not read (``recursive`` off)."""
    if spec is None or recursive:
        return []
    path = Path(os.path.expanduser(spec))
    if not path.is_dir():
        return []
    return sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")
                  and any(p.is_file() and _is_image_name(p) for p in d.rglob("*")))


class ImagesDataset(Dataset):
    """Photos from ``input`` (file, folder or glob), or scikit-image's astronaut when it is unset.

    Samples are named after the file stem (``photo.jpg`` -> ``photo``); the astronaut sample is
    named ``astronaut`` and has no path. Sub-folders of an input folder that hold images but are
    not read (``recursive: false``) come last, as samples with an ``error`` saying so.
    """

    def __init__(self, params: ImagesParams, context: BuildContext) -> None:
        super().__init__(params, context)
        self.paths: list[Path] | None = None if params.input is None else find_images(params.input, params.recursive)
        self.names = ["astronaut"] if self.paths is None else _unique_names(self.paths)
        self.subfolders = skipped_subfolders(params.input, params.recursive)

    def __len__(self) -> int:
        """Number of samples (skipped sub-folders included)."""
        return len(self.names) + len(self.subfolders)

    def __iter__(self) -> Iterator[Sample]:
        """Samples in sorted path order, each image read only when reached."""
        if self.paths is None:
            from skimage import data

            yield Sample(name="astronaut", image=data.astronaut())
            return
        for name, path in zip(self.names, self.paths):
            try:
                sample = Sample(name=name, image=read_image(path), path=path)
            except ImageReadError as exc:
                sample = Sample(name=name, image=None, path=path, error=str(exc))
            yield sample
        for folder in self.subfolders:
            yield Sample(name=f"{folder.name}/", image=None, path=folder,
                         error="a sub-folder with images, not read; set dataset.recursive: true to include it")
