"""Abstract interfaces of every component kind, and the typed data passed between them."""
from .base import BuildContext, ComponentBase
from .data import Camera, FaceBox, FaceResult, Landmarks, Mesh, RenderOutput, Sample, Scene, Textures
from .dataset import Dataset
from .detectors import FaceDetector, LandmarkDetector
from .encoder import Encoder
from .exporter import Exporter
from .lighting import Lighting
from .loss import Loss, LossInputs
from .morphable_model import MorphableModel
from .reflectance import Reflectance
from .renderer import Renderer
from .task import RunContext, RunSummary, Task
from .texture_decoder import TextureDecoder

__all__ = [
    "BuildContext", "ComponentBase", "Camera", "FaceBox", "FaceResult", "Landmarks", "Mesh", "RenderOutput",
    "Sample", "Scene", "Textures", "Dataset", "FaceDetector", "LandmarkDetector", "Encoder",
    "Exporter", "Lighting", "Loss", "LossInputs", "MorphableModel", "Reflectance", "Renderer",
    "RunContext", "RunSummary", "Task", "TextureDecoder",
]
