"""Everything derived from a model's mean shape and triangles, shared by every linear model."""
from __future__ import annotations

import numpy as np

from .surface import face_region, mirror_vertices, unwrap
from .uvmap import layout_uvs, rasterize_uv

__all__ = ["surface_arrays"]


def surface_arrays(mean: np.ndarray, faces: np.ndarray, landmarks: np.ndarray, texture_size: int) -> dict[str, np.ndarray]:
    """UV layout, texel lookup, face mask and left/right symmetry of a mesh.

    Args:
        mean: (V, 3) mean shape in mm (model frame); faces: (F, 3) outward-oriented triangles;
        landmarks: (68,) vertex indices; texture_size: T.
    Returns:
        ``faces``, ``uvs`` (V, 2), ``landmarks``, ``face_mask`` (V,), ``symmetry`` (V,) and the
        texel rasterisation ``texel_vertices``, ``texel_weights``, ``texel_covered``.
    """
    used = np.zeros(len(mean), dtype=bool)
    used[faces.ravel()] = True
    uvs = layout_uvs(unwrap(mean), used, texture_size)
    texel_vertices, texel_weights, texel_covered = rasterize_uv(uvs, faces, texture_size)
    return {
        "faces": faces,
        "uvs": uvs,
        "landmarks": landmarks,
        "face_mask": face_region(mean, landmarks),
        "symmetry": mirror_vertices(mean),
        "texel_vertices": texel_vertices,
        "texel_weights": texel_weights,
        "texel_covered": texel_covered,
    }
