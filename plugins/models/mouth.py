"""A mouth cavity for a face mesh whose lips open onto nothing.

The bfm-lite arrays have no inner mouth: an opened mouth would show the background. The cavity
is a pocket hung from the inner-lip ring (the mesh boundary loop around the mouth slit): rings
of new vertices, each a copy of the lip ring pushed back along -z and drawn towards the ring's
centre, closed at the back by a fan. Every new vertex is a fixed affine combination of lip-ring
vertices plus a fixed offset, so it moves with the identity and expression bases exactly as that
combination of lip vertices does: the pocket opens with the lips.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from .surface import boundary_loops

__all__ = ["CAVITY_DEPTH_MM", "CAVITY_LAYERS", "CAVITY_SHRINK", "Cavity", "mouth_cavity"]

#: How far the back of the pocket lies behind the lips (mm, along -z).
CAVITY_DEPTH_MM = 18.0
#: Rings of new vertices between the lips and the back (the back fan's centre not counted).
CAVITY_LAYERS = 4
#: Fraction of the way to the ring's centre the deepest ring is drawn (a pocket narrowing backwards).
CAVITY_SHRINK = 0.3


@dataclass
class Cavity:
    """New vertices and triangles of a mouth cavity.

    Attributes:
        weights: (N, V) sparse: new vertex n is ``weights[n] @ vertices + offsets[n]``.
        offsets: (N, 3) mm.
        faces: (F', 3) triangles over the V + N vertices, counter-clockwise seen from inside the
            mouth (their normals point into the cavity, where a viewer looking in stands).
        ring: (R,) the lip-ring vertices the pocket hangs from.
    """

    weights: csr_matrix
    offsets: np.ndarray
    faces: np.ndarray
    ring: np.ndarray

    def extend(self, values: np.ndarray) -> np.ndarray:
        """Per-vertex values (..., V, C) followed by the new vertices' (..., V + N, C), offsets excluded."""
        moved = np.stack([self.weights @ item for item in values.reshape(-1, *values.shape[-2:])])
        return np.concatenate([values, moved.reshape(*values.shape[:-2], *moved.shape[-2:])], axis=-2)


def mouth_cavity(vertices: np.ndarray, faces: np.ndarray, inner_lips: np.ndarray) -> Cavity:
    """The pocket behind the boundary loop nearest the inner-lip points (module docstring).

    Args:
        vertices: (V, 3) centred mean shape, mm, +z out of the face.
        faces: (F, 3) outward-oriented triangles; the mouth is a hole of this mesh.
        inner_lips: (K,) vertices on the inner lip contour (iBUG 60-67).
    Returns:
        The :class:`Cavity`; its new vertices are numbered from V.

    Raises:
        ValueError: no boundary loop passes near the inner lips.
    """
    targets = vertices[inner_lips]
    loops = [loop for loop in boundary_loops(faces) if len(loop) >= 3]
    gaps = [np.linalg.norm(targets[:, None] - vertices[loop][None], axis=-1).min(1).mean() for loop in loops]
    if not loops or min(gaps) > 5.0:
        raise ValueError("no mesh boundary runs along the inner lips: the mouth is not open in this triangulation")
    ring = loops[int(np.argmin(gaps))]
    size, n = len(ring), len(vertices)
    rows, cols, values, offsets = [], [], [], []
    for layer in range(1, CAVITY_LAYERS + 1):
        t = layer / CAVITY_LAYERS
        shrink = CAVITY_SHRINK * t
        for i, vertex in enumerate(ring):
            row = len(offsets)
            rows += [row] * (size + 1)
            cols += [int(vertex)] + ring.tolist()
            values += [1.0 - shrink] + [shrink / size] * size
            offsets.append([0.0, 0.0, -CAVITY_DEPTH_MM * t])
    centre = len(offsets)
    rows += [centre] * size
    cols += ring.tolist()
    values += [1.0 / size] * size
    offsets.append([0.0, 0.0, -CAVITY_DEPTH_MM])
    weights = csr_matrix((values, (rows, cols)), shape=(len(offsets), n))

    # Layer 0 is the ring itself; the lips' triangles run ring[i] -> ring[i + 1], so the pocket's
    # run the other way along the ring and keep the orientation consistent across it.
    layers = [ring] + [n + np.arange(k * size, (k + 1) * size) for k in range(CAVITY_LAYERS)]
    following = np.roll(np.arange(size), -1)
    triangles = []
    for outer, inner in zip(layers[:-1], layers[1:]):
        triangles.append(np.stack([outer[following], outer, inner], axis=1))
        triangles.append(np.stack([outer[following], inner, inner[following]], axis=1))
    last = layers[-1]
    triangles.append(np.stack([last[following], last, np.full(size, n + centre)], axis=1))
    return Cavity(weights=weights, offsets=np.asarray(offsets), faces=np.concatenate(triangles).astype(np.int64),
                  ring=ring)
