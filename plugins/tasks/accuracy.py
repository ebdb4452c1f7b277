"""How far a network's faces are from the ground truth, for validating a network every epoch.

- :func:`geometry_distances`: the evaluation's vertex-to-vertex distances
  (:func:`facerecon.evaluation.scoring.vertex_distances`) on its face region (truth vertices within
  95 mm of the nose tip), after the best rigid and the best similarity alignment, so that the
  numbers compare with the ``evaluate`` task's ``v2v``. The scaled alignment matters for a crop
  framed by the landmarks: it does not show the head's size, which only faint perspective cues
  reveal, and the largest identity component of BFM is mostly size;
- :func:`landmark_error`: mean 2D distance (pixels) between predicted and true (or detected,
  then weighted by how far each is trusted) landmarks, and the same divided by the distance
  between the eye centres (``iod``, as the fit's results report it).
"""
from __future__ import annotations

import numpy as np
import torch

from facerecon.evaluation.scoring import ScoreSettings, region_around_nose, vertex_distances

__all__ = ["geometry_distances", "landmark_error"]


def geometry_distances(predicted: torch.Tensor, truth: torch.Tensor, faces: torch.Tensor, landmarks: torch.Tensor,
                       radius: float = ScoreSettings.crop_radius) -> dict[str, np.ndarray]:
    """Vertex-to-vertex distances (mm) of every face-region vertex of every face: ``rigid`` and
    ``scaled`` (similarity alignment), each the (N,) distances of all faces together.

    Args:
        predicted, truth: (B, V, 3) shapes of the model's topology (any frame, mm).
        faces: (F, 3) triangles; landmarks: (68,) landmark vertex indices (the region's centre is
            landmark 30, the nose tip).
        radius: the face region's radius around the truth's nose tip, mm.
    """
    predicted, truth = predicted.detach().cpu().double().numpy(), truth.detach().cpu().double().numpy()
    faces, landmarks = faces.cpu().numpy(), landmarks.cpu().numpy()
    out: dict[str, list[np.ndarray]] = {"rigid": [], "scaled": []}
    for mine, true in zip(predicted, truth):
        region = region_around_nose(true, faces, landmarks, radius)
        for key, scale in (("rigid", False), ("scaled", True)):
            out[key].append(vertex_distances(mine[region], true[region], scale)[0])
    return {k: np.concatenate(v) for k, v in out.items()}


def landmark_error(predicted: torch.Tensor, truth: torch.Tensor,
                   weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """((B,) mean landmark distance in pixels, (B,) the same over the inter-ocular distance) for
    (B, 68, 2) iBUG-68 landmarks; with (B, 68) ``weights`` (detected landmarks weighed by
    :func:`facerecon.contour.landmark_trust`) the weighted mean, the plain one for a face whose
    weights sum to 0."""
    distances = (predicted - truth).norm(dim=-1)
    if weights is None:
        distance = distances.mean(-1)
    else:
        total = weights.sum(-1)
        weighted = (distances * weights).sum(-1) / total.clamp(min=1e-6)
        distance = torch.where(total > 1e-6, weighted, distances.mean(-1))
    eyes = (truth[:, 36:42].mean(1) - truth[:, 42:48].mean(1)).norm(dim=-1).clamp(min=1e-6)
    return distance, distance / eyes
