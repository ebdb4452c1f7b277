"""The ``synthetic-faces`` dataset: photos of random faces with their ground truth, without the
inverse crime.

The faces come from a morphable model's priors (:func:`facerecon.evaluation.draw.draw_truth`), but
the photos are made by a renderer, a BSDF and a light that facerecon's fits do not use
(:mod:`.photo`: Mitsuba's path tracer, principled BSDF, sun and ambient light) over photo
backgrounds (:mod:`facerecon.evaluation.backgrounds`); the fit detects the landmarks itself.

Files live in ``<cache>/synthetic-faces/<key>/``: ``faceNNN.png`` (the photo) and
``faceNNN.truth.npz`` (:func:`facerecon.evaluation.truth.save_truth`). The key hashes a format
version, the settings (not ``count``) and a fingerprint of the model's mesh, so changing either
makes a new set; faces are generated on first use, one at a time while iterating.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Iterator

import numpy as np

from facerecon.evaluation.draw import draw_truth
from facerecon.evaluation.truth import save_truth
from facerecon.imaging import ImageReadError, read_image, write_image
from facerecon.interfaces import BuildContext, Dataset, Sample
from facerecon.io import atomic_write
from facerecon.recipe import ComponentNode

from . import SyntheticFacesParams

__all__ = ["SyntheticFaces", "FORMAT"]

#: Bump when the drawing or the rendering changes: every cached set is regenerated.
FORMAT = 3


def _fingerprint(model) -> str:
    """A digest of the model's mesh (mean shape, triangles, UVs, landmarks, face region)."""
    import torch

    digest = hashlib.sha256()
    with torch.no_grad():
        mean = model.shape(torch.zeros(1, model.n_identity, device=model.faces.device),
                           torch.zeros(1, model.n_expression, device=model.faces.device))[0]
    for array in (mean, model.faces, model.uvs, model.landmarks, model.face_mask):
        digest.update(np.ascontiguousarray(array.detach().cpu().numpy()).tobytes())
    return digest.hexdigest()[:16]


class SyntheticFaces(Dataset):
    """Random faces with known geometry, rendered by Mitsuba onto photo backgrounds (module docstring).

    Samples are named ``face000``, ``face001``...; ``Sample.truth`` is the face's truth file.
    """

    def __init__(self, params: SyntheticFacesParams, context: BuildContext) -> None:
        super().__init__(params, context)
        spec = context.registry.get("morphable_model", params.model)
        self.model_name = params.model
        self.model = context.build(ComponentNode("morphable_model", params.model, spec.params(), "dataset.model"))
        settings = {"format": FORMAT, "seed": params.seed, "model": params.model, "mesh": _fingerprint(self.model),
                    "spp": params.spp, "noise": params.noise, "backgrounds": list(params.backgrounds),
                    "draw": dataclasses.asdict(params.draw)}
        key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self.folder = Path(context.cache_dir) / "synthetic-faces" / key
        self.settings = settings
        self.names = [f"face{i:03d}" for i in range(params.count)]

    def __len__(self) -> int:
        """Number of faces."""
        return len(self.names)

    def __iter__(self) -> Iterator[Sample]:
        """The faces in order, each generated (a few seconds) unless the cache holds it."""
        for index, name in enumerate(self.names):
            photo, truth = self.folder / f"{name}.png", self.folder / f"{name}.truth.npz"
            if not (photo.exists() and truth.exists()):
                self._generate(index, photo, truth)
            try:
                yield Sample(name=name, image=read_image(photo), path=photo, truth=truth)
            except ImageReadError as exc:
                yield Sample(name=name, image=None, path=photo, error=str(exc), truth=truth)

    def _generate(self, index: int, photo: Path, truth_path: Path) -> None:
        from facerecon.evaluation.backgrounds import background
        from .photo import render_photo

        params = self.params
        rng = np.random.default_rng([params.seed, index])
        truth = draw_truth(self.model, rng, params.draw, self.model_name)
        width, height = truth.image_size
        image, truth.alpha, truth.region = render_photo(
            truth, background(rng, params.backgrounds, width, height), params.spp, seed=params.seed * 100003 + index,
            noise=params.noise, rng=rng)
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (self.folder / "settings.json").exists():  # what the folder's key stands for
            with atomic_write(self.folder / "settings.json") as handle:
                handle.write(json.dumps(self.settings, indent=2, sort_keys=True) + "\n")
        save_truth(truth, truth_path)
        write_image(photo, image)  # last: a photo on disk means its truth is complete
