"""Jaw contour landmarks that slide to the face's silhouette (landmark marching).

A detector puts the jaw contour (iBUG 0-16) on the face's outline in the photo. A morphable
model's jaw landmarks are fixed vertices, on the outline of a frontal face only: as the head
turns, the vertices of the cheek turning away go behind the outline and the detector's points
stay on the outline, some way off them (on rendered heads, ~0.1 inter-ocular distances by 30°
of yaw), so a fit with fixed vertices squeezes the face or turns it back.

:class:`SlidingContour` gives each jaw landmark a line of candidate vertices, from the fixed
vertex inwards across the cheek (along the jaw contour's inward normal in the model's x-y
plane), and takes, for each face, the candidate that lies furthest out in the image along the
line's outward direction: the silhouette point of the cheek's cross-section as seen by the
camera. On the side facing the camera the line's visible end, the fixed vertex itself, is the
furthest out, so a frontal face keeps its fixed landmarks. This is the landmark marching of
Zhu et al. (High-fidelity pose and expression normalization, CVPR 2015), with lines derived
from any model's mean shape instead of drawn by hand.

Example::

    contour = SlidingContour.from_model(model)
    candidates = vertices[:, contour.candidates]            # (B, 17, K, 3) camera frame
    jaw = contour.select(candidates, rotation, camera)      # (B, 17, 3)
"""
from __future__ import annotations

import numpy as np
import torch

from .landmarks import IBUG68_GROUPS

__all__ = ["SlidingContour", "CONTOUR_REACH", "CONTOUR_BAND", "CONTOUR_STEP"]

#: How far inwards from the fixed vertex each line reaches, in mm on the mean face: far enough
#: for the silhouette of a cheek turned away by 60° (~25 mm in on bfm-lite's mean face).
CONTOUR_REACH = 35.0
#: Half-width in mm of the band around each line from which candidate vertices are taken.
CONTOUR_BAND = 2.5
#: Spacing in mm of the candidates kept along each line.
CONTOUR_STEP = 1.0


class SlidingContour:
    """The jaw contour's candidate lines of one morphable model (module docstring).

    Attributes:
        candidates: (17, K) long vertex indices, line by line from the innermost candidate to the
            fixed landmark vertex (shorter lines repeat their fixed vertex at the end).
        outward: (17, 3) float unit outward direction of each line in the model frame (z = 0).
    """

    JAW = tuple(IBUG68_GROUPS["jaw"])

    def __init__(self, candidates: torch.Tensor, outward: torch.Tensor) -> None:
        self.candidates, self.outward = candidates, outward

    @classmethod
    def from_mean_shape(cls, vertices: np.ndarray, landmarks: np.ndarray, reach: float = CONTOUR_REACH,
                        band: float = CONTOUR_BAND, step: float = CONTOUR_STEP) -> SlidingContour:
        """Lines from a model's mean shape.

        Args:
            vertices: (V, 3) mean-shape vertices in the model frame (mm, y up, +z out of the face).
            landmarks: (68,) iBUG-68 landmark vertex indices.
            reach, band, step: line length, band half-width and candidate spacing in mm.
        """
        vertices = np.asarray(vertices, np.float64)
        jaw = vertices[np.asarray(landmarks)[list(cls.JAW)]]
        middle = vertices[np.asarray(landmarks)[30], :2]  # nose tip: the contour's inside
        lines, outward = [], []
        for k in range(len(cls.JAW)):
            tangent = jaw[min(k + 1, len(jaw) - 1), :2] - jaw[max(k - 1, 0), :2]
            normal = np.array([tangent[1], -tangent[0]]) / max(np.linalg.norm(tangent), 1e-9)
            if np.dot(jaw[k, :2] - middle, normal) < 0:
                normal = -normal
            relative = vertices[:, :2] - jaw[k, :2]
            along = relative @ normal  # <= 0 inside the contour
            across = np.abs(relative @ np.array([-normal[1], normal[0]]))
            # in front of the fixed vertex's depth less 10 mm: the cheek, not the ear or the neck behind it
            inside = (along >= -reach) & (along <= 0.0) & (across <= band) & (vertices[:, 2] >= jaw[k, 2] - 10.0)
            chosen = []
            for start in np.arange(-reach, 0.0, step):
                in_bin = np.flatnonzero(inside & (along >= start) & (along < start + step))
                if len(in_bin):
                    chosen.append(int(in_bin[np.argmin(across[in_bin])]))
            chosen.append(int(np.asarray(landmarks)[cls.JAW[k]]))
            lines.append(chosen)
            outward.append([normal[0], normal[1], 0.0])
        width = max(len(line) for line in lines)
        padded = [line + [line[-1]] * (width - len(line)) for line in lines]
        return cls(torch.tensor(padded, dtype=torch.long), torch.tensor(outward, dtype=torch.float32))

    @classmethod
    def from_model(cls, model) -> SlidingContour:
        """Lines of a morphable model, from its mean shape, on the model's device."""
        device = model.landmarks.device
        mean = model.shape(torch.zeros(1, model.n_identity, device=device),
                           torch.zeros(1, model.n_expression, device=device))[0]
        contour = cls.from_mean_shape(mean.detach().cpu().numpy(), model.landmarks.cpu().numpy())
        return contour.to(device)

    def to(self, device) -> SlidingContour:
        """The same lines on ``device``."""
        return SlidingContour(self.candidates.to(device), self.outward.to(device))

    def select(self, candidates: torch.Tensor, rotation: torch.Tensor, camera) -> torch.Tensor:
        """The silhouette point of each line.

        Args:
            candidates: (B, 17, K, 3) camera-frame positions of :attr:`candidates` in mm.
            rotation: (B, 3, 3) the faces' model-to-camera rotations.
            camera: the faces' camera (its ``project`` maps (B, N, 3) to (B, N, 2) pixels).
        Returns:
            (B, 17, 3) camera-frame jaw landmarks; gradients flow through the chosen vertices.
        """
        batch, lines, count, _ = candidates.shape
        pixels = camera.project(candidates.reshape(batch, lines * count, 3)).reshape(batch, lines, count, 2)
        direction = (self.outward.to(rotation) @ rotation.transpose(1, 2))[..., :2]  # (B, 17, 2) in the image
        score = (pixels.detach() * direction[:, :, None, :]).sum(-1)  # (B, 17, K)
        best = score.argmax(-1)  # (B, 17)
        return torch.gather(candidates, 2, best[:, :, None, None].expand(batch, lines, 1, 3))[:, :, 0]
