"""``bfm2009``: the user's licensed Basel Face Model 2009 with FaceWarehouse expressions.

Files (docs/architecture.md and ``morphableModel2009/README.md``): ``01_MorphableModel.mat`` (shape and
texture PCA, triangles ``tl``; micrometres, N = 53,490 vertices), ``Exp_Pca.bin`` (79 expression
components on the 53,215 vertices ``trimIndex`` of ``BFM_exp_idx.mat`` picks; the other vertices,
the inner mouth, get no expression offset), ``std_exp.txt`` (their standard deviations) and,
optionally, AlbedoMM's ``albedoModel2020_bfm_albedoPart.h5`` (linear diffuse and specular albedo
PCA driven by one coefficient vector, as NextFace does). AlbedoMM's vertex count must match the
``.mat`` file's.

Coefficients are in standard deviations (``shapeEV``, ``std_exp.txt``, ``texEV`` and AlbedoMM's
``sqrt(pcaVariance)``). Without AlbedoMM the diffuse albedo is the BFM texture: mixed in its own
sRGB 0-255 space, clamped, then linearised. Triangles come from ``tl`` (oriented outwards); UVs,
face mask and symmetry are derived like bfm-lite's (:mod:`plugins.models.surface`), and the 68
landmarks are the 3DDFA keypoints (bfm-lite's, on the 53,215-vertex layout) mapped through
``trimIndex``. The compiled model is cached under ``context.cache_dir/models/``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facerecon.errors import FaceReconError
from facerecon.interfaces import BuildContext

from .bfm_lite import locate_arrays
from .cache import cache_key, cached_arrays
from .files import (ModelFileInvalid, locate, read_albedomm, read_bfm2009, read_expression_basis, read_std,
                    read_trim_index)
from .linear import LinearFaceModel
from .derived import surface_arrays
from .surface import head_centre, orient_outward

__all__ = ["Bfm2009", "compile_model", "map_landmarks", "CACHE_VERSION"]

#: Bump when the derivation changes: every cached bfm2009 entry is rebuilt.
CACHE_VERSION = 2


def map_landmarks(keypoints: np.ndarray, trim_index: np.ndarray) -> np.ndarray:
    """BFM vertex of each 3DDFA landmark.

    Args:
        keypoints: (204,) flat xyz indices into the 53,215-vertex layout (3DDFA ``keypoints_sim``).
        trim_index: (M,) 0-based BFM vertex of each vertex of that layout.
    Returns:
        (68,) int64 BFM vertex indices.
    """
    vertices = np.asarray(keypoints).reshape(68, 3)[:, 0] // 3
    if vertices.max() >= len(trim_index):
        raise FaceReconError(
            f"The expression index has {len(trim_index)} vertices, too few for the 3DDFA landmarks "
            f"(up to vertex {vertices.max()}); give the model a landmarks_path file of 68 vertex indices."
        )
    return trim_index[vertices].astype(np.int64)


def _scaled(basis: np.ndarray, std: np.ndarray, count: int, scale: float) -> np.ndarray:
    """(3N, K) columns times std devs -> (count, N, 3) float32 per standard deviation, times ``scale``."""
    columns = np.asarray(basis[:, :count], dtype=np.float64) * np.asarray(std[:count], dtype=np.float64)[None, :]
    return (columns.T.reshape(count, -1, 3) * scale).astype(np.float32)


def _check_count(name: str, wanted: int, available: int, source: Path) -> None:
    if not 0 <= wanted <= available:
        raise FaceReconError(f"bfm2009: {name}={wanted}, but {source.name} has {available} components.")


def _landmarks(files: dict[str, Path], trim_index: np.ndarray, n_vertices: int) -> np.ndarray:
    """(68,) landmark vertices from the landmarks file (1-based) or the mapped 3DDFA keypoints."""
    if "landmarks" in files:
        landmarks = np.loadtxt(files["landmarks"], dtype=np.int64).reshape(-1) - 1
        if landmarks.size != 68 or landmarks.min() < 0 or landmarks.max() >= n_vertices:
            raise ModelFileInvalid(f"{files['landmarks']} should hold 68 vertex indices from 1 to {n_vertices}.")
        return landmarks
    return map_landmarks(np.load(files["keypoints"]), trim_index)


def compile_model(files: dict[str, Path], params) -> dict[str, np.ndarray]:
    """Every array of a compiled model (see :mod:`plugins.models.linear`) from the licensed files."""
    bfm = read_bfm2009(files["bfm"])
    n = bfm["shapeMU"].size // 3
    trim = read_trim_index(files["index"])
    if trim.min() < 0 or trim.max() >= n:
        raise ModelFileInvalid(f"{files['index']}: trimIndex points outside the model's {n} vertices.")
    expression = read_expression_basis(files["expression"])
    std_exp = read_std(files["std"])
    if expression.shape[1] != 3 * len(trim):
        raise ModelFileInvalid(f"{files['expression']} covers {expression.shape[1] // 3} vertices, trimIndex {len(trim)}.")
    if len(std_exp) != len(expression):
        raise ModelFileInvalid(f"{files['std']} has {len(std_exp)} values for {len(expression)} expression components.")
    _check_count("n_identity", params.n_identity, bfm["shapePC"].shape[1], files["bfm"])
    _check_count("n_expression", params.n_expression, len(expression), files["expression"])

    landmarks = _landmarks(files, trim, n)
    mean = bfm["shapeMU"].reshape(n, 3) / 1000.0
    centre = head_centre(mean, landmarks)
    mean = mean - centre
    full_expression = np.zeros((params.n_expression, n, 3), dtype=np.float32)
    full_expression[:, trim] = _scaled(expression.T, std_exp, params.n_expression, 1e-3)
    faces = orient_outward(mean, bfm["tl"].astype(np.int64) - 1)
    arrays = {
        "mean": mean.astype(np.float32),
        "identity": _scaled(bfm["shapePC"], bfm["shapeEV"], params.n_identity, 1e-3),
        "expression": full_expression,
        "centre": centre.astype(np.float32),
        **surface_arrays(mean, faces, landmarks, params.texture_size),
    }
    arrays.update(_albedo(files, bfm, n, params.n_albedo))
    return arrays


def _albedo(files: dict[str, Path], bfm: dict[str, np.ndarray], n: int, count: int) -> dict[str, np.ndarray]:
    """Per-vertex albedo arrays: AlbedoMM (linear diffuse + specular) or the BFM texture (sRGB 0-255)."""
    if "albedo" not in files:
        _check_count("n_albedo", count, bfm["texPC"].shape[1], files["bfm"])
        return {
            "diffuse_mean": bfm["texMU"].reshape(n, 3).astype(np.float32),
            "diffuse_basis": _scaled(bfm["texPC"], bfm["texEV"], count, 1.0),
            "diffuse_encoding": np.array("srgb255"),
        }
    albedo = read_albedomm(files["albedo"])
    if albedo["diffuse_mean"].size != 3 * n or albedo["specular_mean"].size != 3 * n:
        raise ModelFileInvalid(
            f"{files['albedo']} has {albedo['diffuse_mean'].size // 3} vertices, {files['bfm'].name} has {n}: "
            f"the albedo model must be defined on the same mesh."
        )
    _check_count("n_albedo", count, min(albedo["diffuse_std"].size, albedo["specular_std"].size), files["albedo"])
    return {
        "diffuse_mean": albedo["diffuse_mean"].reshape(n, 3),
        "diffuse_basis": _scaled(albedo["diffuse_basis"], albedo["diffuse_std"], count, 1.0),
        "diffuse_encoding": np.array("linear"),
        "specular_mean": albedo["specular_mean"].reshape(n, 3),
        "specular_basis": _scaled(albedo["specular_basis"], albedo["specular_std"], count, 1.0),
    }


class Bfm2009(LinearFaceModel):
    """BFM2009 identity (``n_identity`` of 199) and texture, FaceWarehouse expressions, optional AlbedoMM.

    ``cache_hit`` tells whether this build read the cache instead of the licensed files.
    """

    def __init__(self, params, context: BuildContext) -> None:
        super().__init__(params, context)
        files = {
            "bfm": locate(params.path, "BFM2009 model", "bfm"),
            "expression": locate(params.expression_path, "expression basis", "expression"),
            "std": locate(params.std_exp_path, "expression standard deviations", "std"),
            "index": locate(params.expression_index_path, "expression vertex index", "index"),
        }
        if params.albedo_path:
            files["albedo"] = locate(params.albedo_path, "AlbedoMM albedo model", "albedo")
        if params.landmarks_path:
            files["landmarks"] = locate(params.landmarks_path, "landmark index", "landmarks")
        else:
            files["keypoints"] = locate_arrays() / "keypoints_sim.npy"
        settings = {name: getattr(params, name) for name in ("n_identity", "n_expression", "n_albedo", "texture_size")}
        key = cache_key(CACHE_VERSION, list(files.values()), settings)
        path = Path(context.cache_dir) / "models" / f"bfm2009-{key}.npz"
        arrays, self.cache_hit = cached_arrays(path, lambda: compile_model(files, params))
        self._install(arrays)
