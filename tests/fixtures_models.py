"""Tiny stand-ins for the licensed morphable model files, written in their exact formats.

:func:`write_toy_bfm2009` writes a 500-vertex head (an ellipsoid patch, micrometres, y up, +z out
of the face, not centred) as ``01_MorphableModel.mat`` (MATLAB v5), ``Exp_Pca.bin``,
``std_exp.txt``, ``BFM_exp_idx.mat``, a landmarks file and, on request, an AlbedoMM
``.h5``, so the bfm2009 plugin runs end to end without the real files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from facerecon.testing.scenes import ibug68_template

__all__ = [
    "ToyBfm",
    "toy_head",
    "write_bfm2009_mat",
    "write_exp_pca_bin",
    "write_std",
    "write_trim_index",
    "write_albedomm",
    "write_toy_bfm2009",
]

N_LAT, N_LON = 20, 25  # 500 vertices
RADII_UM = (75_000.0, 100_000.0, 90_000.0)
OFFSET_UM = (0.0, 15_000.0, 40_000.0)  # the file frame is not centred on the head


@dataclass
class ToyBfm:
    """What :func:`write_toy_bfm2009` wrote, with the arrays for checking results.

    Attributes:
        files: parameter name -> path (``path``, ``expression_path``, ``std_exp_path``,
            ``expression_index_path``, ``landmarks_path`` and, if written, ``albedo_path``).
        shape_mu, shape_pc, shape_ev, tex_mu, tex_pc, tex_ev: the ``.mat`` arrays (flat 3N, (3N, K), (K,)).
        tl: (F, 3) 1-based triangles as written (clockwise seen from outside).
        trim_index: (M,) 1-based; expression: (K, 3M) components; std_exp: (K,).
        landmarks: (68,) 0-based vertex indices.
        albedo: AlbedoMM arrays (``diffuse_mean``, ``diffuse_basis``, ``diffuse_variance`` and the
            ``specular_*`` ones), or None.
    """

    files: dict[str, Path]
    shape_mu: np.ndarray
    shape_pc: np.ndarray
    shape_ev: np.ndarray
    tex_mu: np.ndarray
    tex_pc: np.ndarray
    tex_ev: np.ndarray
    tl: np.ndarray
    trim_index: np.ndarray
    expression: np.ndarray
    std_exp: np.ndarray
    landmarks: np.ndarray
    albedo: dict[str, np.ndarray] | None = None


def toy_head() -> tuple[np.ndarray, np.ndarray]:
    """A left-right symmetric ellipsoid patch, front of a head.

    Returns:
        ``(vertices, tl)``: (500, 3) micrometres in the BFM axes (y up, +z out of the face) and
        (F, 3) 1-based triangles, clockwise seen from outside (the plugin must reorient them).
    """
    lat = np.linspace(-1.1, 1.1, N_LAT)
    lon = np.linspace(-1.9, 1.9, N_LON)
    phi, theta = np.meshgrid(lat, lon, indexing="ij")
    a, b, c = RADII_UM
    vertices = np.stack([a * np.cos(phi) * np.sin(theta), b * np.sin(phi), c * np.cos(phi) * np.cos(theta)], -1)
    vertices = vertices.reshape(-1, 3) + np.asarray(OFFSET_UM)
    i, j = np.meshgrid(np.arange(N_LAT - 1), np.arange(N_LON - 1), indexing="ij")
    v00 = (i * N_LON + j).ravel()
    v01, v10, v11 = v00 + 1, v00 + N_LON, v00 + N_LON + 1
    # (v00, v01, v11) runs counter-clockwise seen from outside (lon right, lat up): reverse it.
    tl = np.concatenate([np.stack([v00, v11, v01], 1), np.stack([v00, v10, v11], 1)]) + 1
    return vertices, tl


def _landmarks(vertices: np.ndarray) -> np.ndarray:
    """Vertex nearest in direction to each point of a schematic frontal iBUG-68 face."""
    template = ibug68_template() * 0.8
    wanted = np.stack([template[:, 0], -template[:, 1], np.sqrt(1.0 - (template**2).sum(1))], -1)
    centred = (vertices - np.asarray(OFFSET_UM)) / np.asarray(RADII_UM)
    directions = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    return (wanted @ directions.T).argmax(1)


def _orthonormal(rows: int, cols: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((rows, cols)))
    return q


def write_bfm2009_mat(path: Path, shape_mu, shape_pc, shape_ev, tex_mu, tex_pc, tex_ev, tl) -> None:
    """``01_MorphableModel.mat``: MATLAB v5, column vectors (3N, 1), bases (3N, K), float32, ``tl`` 1-based."""
    n = len(shape_mu) // 3
    scipy.io.savemat(path, {
        "shapeMU": np.asarray(shape_mu, np.float32).reshape(-1, 1),
        "shapePC": np.asarray(shape_pc, np.float32),
        "shapeEV": np.asarray(shape_ev, np.float32).reshape(-1, 1),
        "texMU": np.asarray(tex_mu, np.float32).reshape(-1, 1),
        "texPC": np.asarray(tex_pc, np.float32),
        "texEV": np.asarray(tex_ev, np.float32).reshape(-1, 1),
        "tl": np.asarray(tl, np.float64),
        "segbin": np.ones((n, 4), np.uint8),
    }, format="5")


def write_exp_pca_bin(path: Path, mean: np.ndarray, components: np.ndarray) -> None:
    """``Exp_Pca.bin``: int32 K, float32 mean (3M,), then K x 3M float32, component-major, little-endian."""
    with open(path, "wb") as handle:
        handle.write(np.asarray([len(components)], "<i4").tobytes())
        handle.write(np.asarray(mean, "<f4").tobytes())
        handle.write(np.asarray(components, "<f4").tobytes())


def write_std(path: Path, std: np.ndarray) -> None:
    """``std_exp.txt``: one value per line."""
    np.savetxt(path, np.asarray(std))


def write_trim_index(path: Path, trim_index: np.ndarray) -> None:
    """``BFM_exp_idx.mat``: ``trimIndex`` (M, 1), 1-based."""
    scipy.io.savemat(path, {"trimIndex": np.asarray(trim_index, np.int32).reshape(-1, 1)}, format="5")


def write_albedomm(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """AlbedoMM HDF5: ``{diffuseAlbedo,specularAlbedo}/model/{mean, pcaBasis (3N, K), pcaVariance}``."""
    import h5py

    with h5py.File(path, "w") as handle:
        for part, group in (("diffuse", "diffuseAlbedo"), ("specular", "specularAlbedo")):
            model = handle.create_group(f"{group}/model")
            model["mean"] = np.asarray(arrays[f"{part}_mean"], np.float32)
            model["pcaBasis"] = np.asarray(arrays[f"{part}_basis"], np.float32)
            model["pcaVariance"] = np.asarray(arrays[f"{part}_variance"], np.float32)


def write_toy_bfm2009(folder: Path, albedo: bool = False) -> ToyBfm:
    """Write every bfm2009 input file for the toy head into ``folder``.

    The expression basis covers all vertices but the lowest row (``trimIndex`` skips them, as the
    real one skips the inner mouth). Component 0 drops the lower part of the face (30 mm below
    the ellipsoid centre), 1 widens the face, 2 pushes the cheeks out.
    """
    folder.mkdir(parents=True, exist_ok=True)
    vertices, tl = toy_head()
    n = len(vertices)
    shape_mu = vertices.reshape(-1)
    shape_pc = _orthonormal(3 * n, 6, seed=1)
    shape_ev = np.array([40_000.0, 30_000.0, 20_000.0, 10_000.0, 5_000.0, 2_000.0])
    height = (vertices[:, 1] - vertices[:, 1].min()) / np.ptp(vertices[:, 1])
    tex_mu = np.stack([190 + 20 * height, 140 + 10 * height, 120 + 5 * height], -1).reshape(-1)
    tex_pc = _orthonormal(3 * n, 4, seed=2)
    tex_ev = np.array([2_000.0, 1_000.0, 500.0, 250.0])
    trim_index = np.arange(N_LON, n) + 1
    kept = vertices[trim_index - 1] - np.asarray(OFFSET_UM)
    drop = np.zeros_like(kept)
    drop[:, 1] = -(kept[:, 1] < -30_000).astype(float)
    widen = np.zeros_like(kept)
    widen[:, 0] = kept[:, 0] / RADII_UM[0]
    cheeks = np.zeros_like(kept)
    cheeks[:, 2] = np.abs(kept[:, 0]) / RADII_UM[0]
    expression = np.stack([drop, widen, cheeks]).reshape(3, -1)
    std_exp = np.array([2_000.0, 1_000.0, 500.0])
    landmarks = _landmarks(vertices)

    files = {
        "path": folder / "01_MorphableModel.mat",
        "expression_path": folder / "Exp_Pca.bin",
        "std_exp_path": folder / "std_exp.txt",
        "expression_index_path": folder / "BFM_exp_idx.mat",
        "landmarks_path": folder / "landmarks.txt",
    }
    write_bfm2009_mat(files["path"], shape_mu, shape_pc, shape_ev, tex_mu, tex_pc, tex_ev, tl)
    write_exp_pca_bin(files["expression_path"], np.zeros(expression.shape[1]), expression)
    write_std(files["std_exp_path"], std_exp)
    write_trim_index(files["expression_index_path"], trim_index)
    np.savetxt(files["landmarks_path"], landmarks + 1, fmt="%d")
    toy = ToyBfm(files, shape_mu, shape_pc, shape_ev, tex_mu, tex_pc, tex_ev, tl, trim_index, expression,
                 std_exp, landmarks)
    if albedo:
        toy.albedo = {
            "diffuse_mean": np.tile([0.45, 0.3, 0.25], n),
            "diffuse_basis": _orthonormal(3 * n, 5, seed=3),
            "diffuse_variance": np.array([4.0, 1.0, 0.25, 0.04, 0.01]),
            "specular_mean": np.full(3 * n, 0.08),
            "specular_basis": _orthonormal(3 * n, 5, seed=4),
            "specular_variance": np.array([1.0, 0.25, 0.04, 0.01, 0.0025]),
        }
        toy.files["albedo_path"] = folder / "albedoModel2020_bfm_albedoPart.h5"
        write_albedomm(toy.files["albedo_path"], toy.albedo)
    return toy
