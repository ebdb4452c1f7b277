"""How far a network's faces are from the ground truth: geometry in mm after rigid alignment, landmarks.

Batched torch versions of the usual measures, for validating a network every epoch:

- :func:`geometry_error`: mean distance (mm) between corresponding vertices of the face region
  after the least-squares rigid alignment (Umeyama, no scale) of the predicted shape onto the
  true one, so pose errors do not count; with ``scale`` the alignment also scales (a similarity):
  a crop framed by the landmarks does not show the head's size, which only faint perspective
  cues reveal, and the largest identity component of BFM is mostly size;
- :func:`landmark_error`: mean 2D distance (pixels) between predicted and true landmarks, and the
  same divided by the distance between the eye centres (``iod``, as the fit's results report it).
"""
from __future__ import annotations

import torch

__all__ = ["rigid_align", "geometry_error", "landmark_error"]


def rigid_align(source: torch.Tensor, target: torch.Tensor, scale: bool = False) -> torch.Tensor:
    """``source`` (B, N, 3) moved by the rigid transform (with ``scale``: the similarity) that best
    maps it onto ``target`` (B, N, 3) (Umeyama; reflections excluded)."""
    source, target = source.double(), target.double()
    mu_s, mu_t = source.mean(1, keepdim=True), target.mean(1, keepdim=True)
    centred = source - mu_s
    covariance = (target - mu_t).transpose(1, 2) @ centred
    u, sigma, vt = torch.linalg.svd(covariance)
    d = torch.ones(source.shape[0], 3, dtype=source.dtype, device=source.device)
    d[:, 2] = torch.sign(torch.linalg.det(u) * torch.linalg.det(vt))
    rotation = u @ torch.diag_embed(d) @ vt
    factor = ((sigma * d).sum(-1) / centred.pow(2).sum((1, 2)).clamp(min=1e-12))[:, None, None] if scale else 1.0
    return (factor * centred @ rotation.transpose(1, 2) + mu_t).float()


def geometry_error(predicted: torch.Tensor, truth: torch.Tensor, region: torch.Tensor | None = None,
                   scale: bool = False) -> torch.Tensor:
    """(B,) mean vertex distance in mm after rigid (with ``scale``: similarity) alignment, over
    ``region`` (V,) bool vertices.

    Args:
        predicted, truth: (B, V, 3) shapes of the same topology (model frame, mm).
    """
    if region is not None:
        predicted, truth = predicted[:, region], truth[:, region]
    return (rigid_align(predicted, truth, scale) - truth.float()).norm(dim=-1).mean(-1)


def landmark_error(predicted: torch.Tensor, truth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """((B,) mean landmark distance in pixels, (B,) the same over the inter-ocular distance) for
    (B, 68, 2) iBUG-68 landmarks."""
    distance = (predicted - truth).norm(dim=-1).mean(-1)
    eyes = (truth[:, 36:42].mean(1) - truth[:, 42:48].mean(1)).norm(dim=-1).clamp(min=1e-6)
    return distance, distance / eyes
