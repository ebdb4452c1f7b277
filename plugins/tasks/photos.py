"""Training faces from photos: detected and located once, cached beside the run, cropped as at inference.

The faces of every photo of a dataset are detected and their 68 landmarks located once; the
results (landmarks and confidences per photo, with the photo's size and modification time) are
kept in a JSON file in the run's output folder, so a rerun or another epoch does not detect again.
Crops are framed by :func:`.crop.crop_around` exactly as the ``reconstruct`` task frames photos.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from facerecon.interfaces import RunSummary
from facerecon.io import atomic_write

from .crop import crop_around
from .facesets import FaceSet, stack_uint8

__all__ = ["photo_faces", "CACHE_VERSION"]

#: Bump when the cached fields change.
CACHE_VERSION = 1


def _stamp(sample: Any) -> float | None:
    path = getattr(sample, "path", None)
    return Path(path).stat().st_mtime if path is not None and Path(path).exists() else None


def photo_faces(dataset: Any, detector: Any, landmarker: Any, size: int, margin: float, faces: str,
                cache_file: Path, summary: RunSummary, write: bool = True) -> FaceSet:
    """Every face of the dataset's photos as ``size``² crops with detected landmarks.

    Args:
        dataset: yields the photos; detector, landmarker: the recipe's detectors.
        size, margin: crop side and framing margin.
        faces: ``all`` or ``largest`` (per photo).
        cache_file: the JSON cache of detections (read, and written when ``write``).
        summary: unreadable photos and photos without a face are reported into it.
    """
    cache: dict[str, Any] = {}
    describe = f"{type(detector).__name__}{getattr(detector, 'params', '')}|{type(landmarker).__name__}" \
               f"{getattr(landmarker, 'params', '')}|{faces}"
    if cache_file.exists():
        stored = json.loads(cache_file.read_text())
        if stored.get("version") == CACHE_VERSION and stored.get("detectors") == describe:
            cache = stored["photos"]
    images, principal, landmarks, confidence, names = [], [], [], [], []
    for sample in tqdm(dataset, desc="faces in photos", leave=False, disable=None):
        if sample.error is not None:
            summary.skipped.append((sample.name, sample.error))
            continue
        key = str(sample.path or sample.name)
        entry = cache.get(key)
        if entry is None or entry.get("stamp") != _stamp(sample):
            boxes = detector.detect(sample.image)
            if faces == "largest" and boxes:
                boxes = [max(boxes, key=lambda b: b.area)]
            located = [landmarker.locate(sample.image, box) for box in boxes]
            entry = {"stamp": _stamp(sample), "faces": [
                {"points": np.asarray(l.points, float).tolist(), "confidence": np.asarray(l.confidence, float).tolist()}
                for l in located]}
            cache[key] = entry
        if not entry["faces"]:
            summary.skipped.append((sample.name, "no face detected"))
            continue
        height, width = sample.image.shape[:2]
        for index, face in enumerate(entry["faces"]):
            points = np.asarray(face["points"], np.float64)
            crop = crop_around(points, size, margin)
            images.append(crop.warp(sample.image))
            principal.append(crop.to_crop(np.array([[width / 2.0, height / 2.0]]))[0])
            landmarks.append(crop.to_crop(points))
            confidence.append(np.asarray(face["confidence"], np.float32))
            names.append(sample.name if len(entry["faces"]) == 1 else f"{sample.name}_face{index}")
    if write:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(cache_file) as handle:
            json.dump({"version": CACHE_VERSION, "detectors": describe, "photos": cache}, handle)
    if not images:
        return FaceSet(torch.zeros(0, size, size, 3, dtype=torch.uint8), torch.zeros(0, 2), torch.zeros(0, 68, 2),
                       torch.zeros(0, 68), [])
    return FaceSet(stack_uint8(images), torch.tensor(np.stack(principal), dtype=torch.float32),
                   torch.tensor(np.stack(landmarks), dtype=torch.float32),
                   torch.tensor(np.stack(confidence), dtype=torch.float32), names)
