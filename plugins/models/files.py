"""Locating and reading the licensed BFM2009 model files (docs/architecture.md, Morphable models and their files).

Readers return numpy arrays in the files' own layout and units (micrometres, 1-based indices
where the file has them); :mod:`plugins.models.bfm2009` turns them into a model.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facerecon.errors import FaceReconError

__all__ = [
    "MODEL_DIR",
    "ModelFileMissing",
    "ModelFileInvalid",
    "locate",
    "read_bfm2009",
    "read_expression_basis",
    "read_std",
    "read_trim_index",
    "read_albedomm",
]

#: Where users put the licensed files: ``morphableModel2009/`` of the facerecon checkout.
MODEL_DIR = Path(__file__).resolve().parents[2] / "morphableModel2009"

# Where each file comes from, for the missing-file message.
_SOURCES = {
    "bfm": "register at https://faces.dmi.unibas.ch/bfm/ (free for non-commercial research), download "
           "the 2009 Basel Face Model and copy 01_MorphableModel.mat out of its PublicMM1/ folder",
    "expression": "Exp_Pca.bin is the FaceWarehouse expression basis of Guo et al. (CNN-based Real-time Dense "
                  "Face Reconstruction, 3DFace); get it as the Deep3DFaceRecon_pytorch README describes "
                  "(the 'Expression Basis' download of the 3DFace project)",
    "std": "std_exp.txt ships with Deep3DFaceRecon_pytorch (BFM/std_exp.txt)",
    "index": "BFM_exp_idx.mat ships with Deep3DFaceRecon_pytorch (BFM/BFM_exp_idx.mat)",
    "albedo": "albedoModel2020_bfm_albedoPart.h5 is on the AlbedoMM releases page "
              "(https://github.com/waps101/AlbedoMM/releases, academic licence)",
    "landmarks": "a landmarks file is yours to write: 68 vertex indices (1-based), one per iBUG-68 point",
}


class ModelFileMissing(FaceReconError, FileNotFoundError):
    """A morphable model file is not where the recipe says; the message says how to get it."""


class ModelFileInvalid(FaceReconError, ValueError):
    """A morphable model file exists but does not have the expected content."""


def locate(path: str, what: str, source: str) -> Path:
    """Resolve a model file path; relative paths are tried from the working directory, then the checkout.

    Args:
        path: as given in the recipe.
        what: a few words naming the file for the message (``"BFM2009 model"``).
        source: key of the download instructions (``bfm``, ``expression``, ``std``, ``index``, ``albedo``,
            ``landmarks``).
    Returns:
        The existing file.
    Raises:
        ModelFileMissing: with one paragraph: which file, where it goes, where to get it.
    """
    given = Path(path).expanduser()
    candidates = [given] if given.is_absolute() else list(dict.fromkeys([Path.cwd() / given, MODEL_DIR.parent / given]))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " and ".join(str(c) for c in candidates)
    raise ModelFileMissing(
        f"The {what} file '{path}' was not found (looked at {looked}). Put it in {MODEL_DIR}/ "
        f"(or point the model's parameter at it): {_SOURCES[source]}. These files are licensed for "
        f"non-commercial research only and are not distributed with facerecon; see "
        f"{MODEL_DIR / 'README.md'}."
    )


def _invalid(path: Path, problem: str) -> ModelFileInvalid:
    return ModelFileInvalid(f"{path} is not a usable morphable model file: {problem}.")


def read_bfm2009(path: Path) -> dict[str, np.ndarray]:
    """Read ``01_MorphableModel.mat`` (MATLAB v5).

    Returns:
        ``shapeMU`` (3N,), ``shapePC`` (3N, K), ``shapeEV`` (K,) std devs, ``texMU`` (3N,) 0-255,
        ``texPC`` (3N, K), ``texEV`` (K,), ``tl`` (F, 3) 1-based; micrometres, interleaved xyz.
    """
    from scipy.io import loadmat

    try:
        data = loadmat(str(path), variable_names=["shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV", "tl"])
    except (ValueError, OSError, NotImplementedError) as exc:
        raise _invalid(path, f"scipy cannot read it as a MATLAB v5 file ({exc})") from exc
    missing = [k for k in ("shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV", "tl") if k not in data]
    if missing:
        raise _invalid(path, f"it lacks {', '.join(missing)}")
    out = {k: np.asarray(data[k]) for k in ("shapePC", "texPC", "tl")}
    out.update({k: np.asarray(data[k], dtype=np.float64).reshape(-1) for k in ("shapeMU", "shapeEV", "texMU", "texEV")})
    n = out["shapeMU"].size
    if n % 3 or out["shapePC"].shape[0] != n or out["texPC"].shape[0] != n or out["texMU"].size != n:
        raise _invalid(path, "shapeMU, shapePC, texMU and texPC do not have the same 3N rows")
    if out["tl"].ndim != 2 or out["tl"].shape[1] != 3:
        raise _invalid(path, f"tl should be (F, 3) triangles, got {out['tl'].shape}")
    return out


def read_expression_basis(path: Path) -> np.ndarray:
    """Read ``Exp_Pca.bin``: int32 K, float32 mean (3M, unused), K x 3M float32 component-major.

    M (53,215 for the real file) follows from the file size.

    Returns:
        (K, 3M) float32 components, micrometres, interleaved xyz.
    """
    raw = path.read_bytes()
    if len(raw) < 4:
        raise _invalid(path, "it is shorter than its 4-byte header")
    count = int(np.frombuffer(raw[:4], dtype="<i4")[0])
    floats = (len(raw) - 4) // 4
    if count <= 0 or (len(raw) - 4) % 4 or floats % (count + 1) or (floats // (count + 1)) % 3:
        raise _invalid(path, f"its size does not fit K = {count} components plus a mean of 3M floats")
    values = np.frombuffer(raw[4:], dtype="<f4").reshape(count + 1, -1)
    return values[1:].copy()


def read_std(path: Path) -> np.ndarray:
    """Read ``std_exp.txt``: one standard deviation per expression component (whitespace separated)."""
    try:
        return np.loadtxt(path, dtype=np.float64).reshape(-1)
    except ValueError as exc:
        raise _invalid(path, f"it should hold numbers only ({exc})") from exc


def read_trim_index(path: Path) -> np.ndarray:
    """Read ``BFM_exp_idx.mat``: ``trimIndex``, 1-based BFM vertex of each expression-basis vertex.

    Returns:
        (M,) int64, 0-based.
    """
    from scipy.io import loadmat

    data = loadmat(str(path), variable_names=["trimIndex"])
    if "trimIndex" not in data:
        raise _invalid(path, "it lacks trimIndex")
    return np.asarray(data["trimIndex"]).reshape(-1).astype(np.int64) - 1


def read_albedomm(path: Path) -> dict[str, np.ndarray]:
    """Read an AlbedoMM file (``albedoModel2020_bfm_albedoPart.h5``).

    Layout (statismo): ``{diffuseAlbedo,specularAlbedo}/model/{mean (3N,), pcaBasis (3N, K),
    pcaVariance (K,)}``, linear sRGB in [0, 1], orthonormal basis, variances.

    Returns:
        ``diffuse_mean``, ``diffuse_basis``, ``diffuse_std``, ``specular_mean``, ``specular_basis``,
        ``specular_std`` (std = sqrt(variance)).
    """
    import h5py

    out = {}
    try:
        with h5py.File(path, "r") as handle:
            for part, group in (("diffuse", "diffuseAlbedo"), ("specular", "specularAlbedo")):
                model = handle[group]["model"]
                out[f"{part}_mean"] = np.asarray(model["mean"], dtype=np.float32).reshape(-1)
                out[f"{part}_basis"] = np.asarray(model["pcaBasis"], dtype=np.float32)
                out[f"{part}_std"] = np.sqrt(np.asarray(model["pcaVariance"], dtype=np.float64).reshape(-1))
    except (OSError, KeyError) as exc:
        raise _invalid(path, f"it is not an AlbedoMM HDF5 file with diffuseAlbedo/specularAlbedo models ({exc})") from exc
    for part in ("diffuse", "specular"):
        basis = out[f"{part}_basis"]
        if basis.ndim != 2 or basis.shape[0] != out[f"{part}_mean"].size or basis.shape[1] != out[f"{part}_std"].size:
            raise _invalid(path, f"{part} pcaBasis {basis.shape} does not match its mean and variances")
    return out
