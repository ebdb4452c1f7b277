"""Everything derived from a model's mean shape and triangles, shared by every linear model."""
from __future__ import annotations

import numpy as np

from .surface import boundary_loops, face_region, mirror_vertices, unwrap
from .uvmap import layout_uvs, rasterize_uv

__all__ = ["surface_arrays"]


def surface_arrays(mean: np.ndarray, faces: np.ndarray, landmarks: np.ndarray, texture_size: int,
                   outside_face: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """UV layout, texel lookup, face mask and left/right symmetry of a mesh.

    Args:
        mean: (V, 3) mean shape in mm (model frame); faces: (F, 3) outward-oriented triangles,
        one connected piece; landmarks: (68,) vertex indices; texture_size: T;
        outside_face: optional (V,) bool, vertices never in the face region (a mouth cavity).
    Returns:
        ``faces``, ``uvs`` (V, 2), ``landmarks``, ``face_mask`` (V,), ``symmetry`` (V,) and the
        texel rasterisation ``texel_vertices``, ``texel_weights``, ``texel_covered``.
    """
    outline = boundary_loops(faces)[0]
    uvs = layout_uvs(mean, faces, outline, unwrap(mean[outline]), texture_size)
    texel_vertices, texel_weights, texel_covered = rasterize_uv(uvs, faces, texture_size)
    face_mask = face_region(mean, landmarks)
    if outside_face is not None:
        face_mask &= ~outside_face
    return {
        "faces": faces,
        "uvs": uvs,
        "landmarks": landmarks,
        "face_mask": face_mask,
        "symmetry": mirror_vertices(mean),
        "texel_vertices": texel_vertices,
        "texel_weights": texel_weights,
        "texel_covered": texel_covered,
    }
