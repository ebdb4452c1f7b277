"""Pieces every renderer benchmark shares: the posed face, the timer, the bar plot, the devices."""
from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from facerecon.geometry import apply_pose, vertex_normals
from facerecon.interfaces import Camera, Mesh, Scene, Textures

__all__ = ["BenchFace", "posed_face", "time_call", "render_timings", "bar_plot", "devices"]


def devices() -> list[torch.device]:
    """The CPU, and CUDA when present. ``FACERECON_BENCH_DEVICES`` (comma-separated, e.g. ``cuda``)
    keeps only the devices it names, so that a short session on a GPU machine skips the CPU rows."""
    present = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    wanted = os.environ.get("FACERECON_BENCH_DEVICES")
    return [torch.device(name) for name in present if not wanted or name in wanted.split(",")]


@dataclass
class BenchFace:
    """The benchmark scene's geometry and maps.

    Attributes:
        name: ``bfm-lite`` or ``uv-sphere``.
        vertices: (B, V, 3) camera-frame vertices in mm; faces (F, 3); uvs (V, 2).
        camera: size×size pinhole camera; textures: constant skin-like (B, 256, 256, C) maps.
    """

    name: str
    vertices: torch.Tensor
    faces: torch.Tensor
    uvs: torch.Tensor
    camera: Camera
    textures: Textures

    def scene(self, vertices, light, textures, lighting, reflectance) -> Scene:
        """A scene of this face with the given (possibly grad-requiring) vertices, light and maps."""
        mesh = Mesh(vertices, self.faces, self.uvs, vertex_normals(vertices, self.faces))
        return Scene(mesh, self.camera, textures, light, lighting, reflectance)


def _face_mesh(device: torch.device) -> tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The bfm-lite mean face, or a UV sphere of similar size and triangle count without the model."""
    try:
        from facerecon.api import build

        model = build("morphable_model", "bfm-lite", device=str(device))
        shape = model.shape(torch.zeros(1, model.n_identity, device=device),
                            torch.zeros(1, model.n_expression, device=device))[0]
        return "bfm-lite", shape, model.faces, model.uvs
    except Exception as exc:  # the benchmark still runs without the model
        from facerecon.testing.scenes import uv_sphere

        print(f"   bfm-lite unavailable ({type(exc).__name__}: {exc}); using a UV sphere", flush=True)
        vertices, faces, uvs = uv_sphere(224, 224)
        return "uv-sphere", (vertices * 90.0).to(device), faces.to(device), uvs.to(device)


def posed_face(device: torch.device, batch: int, size: int, focal: float) -> BenchFace:
    """The mean face posed as NextFace initialises it (rotation (π, 0, 0), 500 mm away)."""
    name, model_vertices, faces, uvs = _face_mesh(device)
    rotation = torch.tensor([[math.pi, 0.0, 0.0]], device=device).expand(batch, 3)
    translation = torch.tensor([[0.0, 0.0, 500.0]], device=device).expand(batch, 3)
    vertices = apply_pose(model_vertices.expand(batch, -1, -1), rotation, translation)
    textures = Textures(torch.full((batch, 256, 256, 3), 0.45, device=device),
                        torch.full((batch, 256, 256, 3), 0.06, device=device),
                        torch.full((batch, 256, 256, 1), 0.4, device=device))
    camera = Camera(torch.full((batch,), focal, device=device), size, size)
    return BenchFace(name, vertices, faces, uvs, camera, textures)


def time_call(fn: Callable[[], object], device: torch.device, repeats: int) -> tuple[float, float, float]:
    """(first call, fastest, median of ``repeats`` further calls) wall time of ``fn`` in seconds,
    synchronising CUDA around each call."""
    def once() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    first = once()
    times = [once() for _ in range(repeats)]
    return first, min(times), statistics.median(times)


def render_timings(renderer, face: BenchFace, light, lighting, reflectance, device, repeats: int) -> dict:
    """Seconds of a forward render (no autograd) and of a render back-propagated to vertices,
    light and diffuse map: ``{"first", "forward", "forward_median", "forward_backward",
    "forward_backward_median"}`` (fastest and median of ``repeats`` runs after a warm-up)."""
    def forward() -> None:
        with torch.no_grad():
            renderer.render(face.scene(face.vertices, light, face.textures, lighting, reflectance))

    def forward_backward() -> None:
        v = face.vertices.detach().requires_grad_()
        lt = light.detach().requires_grad_()
        maps = face.textures
        tex = Textures(maps.diffuse.detach().requires_grad_(), maps.specular, maps.roughness)
        out = renderer.render(face.scene(v, lt, tex, lighting, reflectance))
        (out.image.mean() + out.mask.mean()).backward()

    first, fwd, fwd_median = time_call(forward, device, repeats)
    _, fwd_bwd, fwd_bwd_median = time_call(forward_backward, device, repeats)
    return {"first": first, "forward": fwd, "forward_median": fwd_median,
            "forward_backward": fwd_bwd, "forward_backward_median": fwd_bwd_median}


def bar_plot(path: Path, labels: list[str], forward: list[float], backward: list[float], *, ylabel: str,
             title: str, notes: list[str] | None = None, target: float | None = None) -> None:
    """Grouped bars (forward, forward+backward) per label, optional notes above and a target line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = range(len(labels))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(labels)), 4))
    ax.bar([i - 0.2 for i in x], forward, 0.4, label="forward")
    ax.bar([i + 0.2 for i in x], backward, 0.4, label="forward+backward")
    for i, note in zip(x, notes or []):
        if note:
            ax.annotate(note, (i, max(forward[i], backward[i])), ha="center", va="bottom", fontsize=7)
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"{target:g} ms target")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
