"""Faces held in memory for training and validation: crops and what they are compared with.

A :class:`FaceSet` is what the ``train`` task's DataLoader reads: square sRGB crops framed by
:func:`.crop.crop_around` (as the ``reconstruct`` task frames photos), each with its photo's
principal point in crop pixels, 68 landmarks with confidences and, for synthetic faces, the
ground-truth physical values. :mod:`.synthetic` draws and renders them; :mod:`.photos` finds them
in photos.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from facerecon.imaging import srgb_to_linear
from facerecon.io import atomic_path
from facerecon.pipeline import FaceTargets

__all__ = ["FaceSet", "batch_targets", "truth_values", "stack_uint8"]


@dataclass
class FaceSet(torch.utils.data.Dataset):
    """N face crops and their targets.

    Attributes:
        images: (N, S, S, 3) uint8 sRGB crops.
        principal: (N, 2) principal point of each photo's camera, in crop pixels.
        landmarks: (N, 68, 2) landmarks in crop pixels.
        confidence: (N, 68) confidence of each landmark.
        names: N names (for pictures and logs).
        truth: ground-truth physical values by group, (N, ...) each (synthetic faces), or empty.
    """

    images: torch.Tensor
    principal: torch.Tensor
    landmarks: torch.Tensor
    confidence: torch.Tensor
    names: list[str]
    truth: dict[str, torch.Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {"index": torch.tensor(index), "image": self.images[index], "principal": self.principal[index],
                "landmarks": self.landmarks[index], "confidence": self.confidence[index]}
        item.update({f"truth.{k}": v[index] for k, v in self.truth.items()})
        return item

    @property
    def size(self) -> int:
        """S, the crop side."""
        return int(self.images.shape[1])

    def subset(self, indices) -> "FaceSet":
        """The faces at ``indices``."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return FaceSet(self.images[index], self.principal[index], self.landmarks[index], self.confidence[index],
                       [self.names[i] for i in index.tolist()], {k: v[index] for k, v in self.truth.items()})

    @staticmethod
    def concat(sets: list["FaceSet"]) -> "FaceSet":
        """The faces of several sets (of one crop size) together; ground truth only if all have it."""
        truth_keys = set.intersection(*[set(s.truth) for s in sets]) if all(s.truth for s in sets) else set()
        return FaceSet(torch.cat([s.images for s in sets]), torch.cat([s.principal for s in sets]),
                       torch.cat([s.landmarks for s in sets]), torch.cat([s.confidence for s in sets]),
                       [n for s in sets for n in s.names],
                       {k: torch.cat([s.truth[k] for s in sets]) for k in sorted(truth_keys)})

    def save(self, path: Path) -> Path:
        """Write the set as a safetensors file (atomically)."""
        from safetensors.torch import save_file

        tensors = {"images": self.images, "principal": self.principal, "landmarks": self.landmarks,
                   "confidence": self.confidence, **{f"truth.{k}": v for k, v in self.truth.items()}}
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata={"names": json.dumps(self.names)})
        return path

    @staticmethod
    def load(path: Path) -> "FaceSet":
        """Read a set written by :meth:`save`."""
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
            names = json.loads(handle.metadata()["names"])
        truth = {k[len("truth."):]: v for k, v in tensors.items() if k.startswith("truth.")}
        return FaceSet(tensors["images"], tensors["principal"], tensors["landmarks"], tensors["confidence"], names, truth)


def batch_targets(batch: dict[str, torch.Tensor], device: torch.device) -> tuple[torch.Tensor, FaceTargets]:
    """A DataLoader batch of a :class:`FaceSet` -> (sRGB crops (B, S, S, 3) in [0, 1], the pipeline's
    :class:`FaceTargets` with linear crops) on ``device``."""
    images = batch["image"].to(device, non_blocking=True).float().div_(255.0)
    targets = FaceTargets(image=srgb_to_linear(images), principal=batch["principal"].to(device).float(),
                          landmarks=batch["landmarks"].to(device).float(),
                          landmarks_confidence=batch["confidence"].to(device).float())
    return images, targets


def truth_values(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The ground-truth physical values of a DataLoader batch (empty for photos)."""
    return {k[len("truth."):]: v.to(device) for k, v in batch.items() if k.startswith("truth.")}


def stack_uint8(images: list[np.ndarray]) -> torch.Tensor:
    """(S, S, 3) uint8 arrays -> (N, S, S, 3) uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(np.stack(images))).to(torch.uint8)
