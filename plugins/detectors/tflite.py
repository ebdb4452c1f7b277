"""MediaPipe's face models (TFLite files) run by the LiteRT interpreter.

The model files ship inside the ``mediapipe`` 0.10.21 wheel, which is installed without its
dependencies (they pin numpy < 2): only the files are read, the ``mediapipe`` package is never
imported. They run under ``ai-edge-litert``, Google's stand-alone TFLite interpreter. Both are
located here so that a missing one is reported in one place, with what to install.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from .common import BackendUnavailable, DetectorSetupError

__all__ = ["MEDIAPIPE_INSTALL", "mediapipe_model_path", "TFLiteModel"]

#: How to install the two packages (the Makefile does it).
MEDIAPIPE_INSTALL = "`pip install ai-edge-litert` and `pip install --no-deps mediapipe==0.10.21` (model files only)"


def mediapipe_model_path(relative: str) -> Path:
    """Path of a model file of the installed ``mediapipe`` wheel, e.g. ``face_detection/x.tflite``.

    Found without importing ``mediapipe`` (its ``__init__`` needs numpy < 2 and protobuf < 5).

    Raises:
        BackendUnavailable: mediapipe or the file is missing.
    """
    try:
        spec = importlib.util.find_spec("mediapipe")
    except ValueError:  # a module object without a spec stands in its place
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        candidate = Path(folder) / "modules" / relative
        if candidate.is_file():
            return candidate
    where = f" (looked in {', '.join(str(Path(f) / 'modules') for f in folders)})" if folders else ""
    raise BackendUnavailable(
        f"The MediaPipe face models need {Path(relative).name} from the mediapipe 0.10.21 wheel, which "
        f"was not found{where}. Install {MEDIAPIPE_INSTALL}; mediapipe 0.10.30 and later no longer ship it."
    )


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise BackendUnavailable(
            f"The MediaPipe face models need the LiteRT interpreter, which failed to import ({exc}). "
            f"Install {MEDIAPIPE_INSTALL}."
        ) from exc
    return Interpreter


class TFLiteModel:
    """One TFLite model with a single float32 NHWC image input.

    Attributes:
        path: the model file.
        input_size: (height, width) of the input image.
    """

    def __init__(self, path: Path, threads: int = 1) -> None:
        try:
            self._interpreter = _interpreter_class()(model_path=str(path), num_threads=threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise DetectorSetupError(f"LiteRT could not load the model {path}: {exc}") from exc
        self.path = path
        inputs = self._interpreter.get_input_details()
        self._input = inputs[0]["index"]
        self.input_size: tuple[int, int] = tuple(int(n) for n in inputs[0]["shape"][1:3])
        self._outputs = [d["index"] for d in self._interpreter.get_output_details()]

    def __call__(self, image: np.ndarray) -> list[np.ndarray]:
        """(H, W, 3) float32 input image -> the model's outputs (copies), batch dimension dropped."""
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(image, dtype=np.float32)[None])
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(index)[0].copy() for index in self._outputs]
