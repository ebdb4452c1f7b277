"""Renderer speed: Mitsuba path tracer vs our rasterizer, forward and forward+backward at 256×256.

The mesh is the ``bfm-lite`` mean face (~99k triangles; a ~100k-triangle UV sphere when the model
cannot be built) posed as NextFace initialises it (rotation (π, 0, 0), 500 mm away), focal 600 px
(as ``bench_rasterizer``), 256² texture maps, a 3-band SH light. Mitsuba traces 8 spp with one
bounce (direct light with self-shadowing, NextFace's setting) using ``prb``. Each timing runs
REPEATS times after one warm-up (reported as ``first_call_ms``: Mitsuba compiles its kernels then;
Dr.Jit caches them on disk, so later processes start faster); ``*_ms`` is the fastest run, which
shared machines disturb least, ``*_median_ms`` the median. "forward" runs without autograd;
"forward+backward" back-propagates the mean image to vertices, light and the diffuse map. Ratios
are Mitsuba / rasterizer of the fastest runs.

    python benchmarks/bench_renderers.py [output_dir]
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch

from benchmarks.common import face_mesh, time_call
from facerecon.api import build, cache_dir
from facerecon.errors import FaceReconError
from facerecon.geometry import apply_pose, vertex_normals
from facerecon.interfaces import BuildContext, Camera, Mesh, Scene, Textures
from facerecon.io import atomic_write
from plugins.lighting import SHParams
from plugins.lighting.sh import SHLighting
from plugins.reflectance import CookTorranceParams, LambertianParams
from plugins.reflectance.cook_torrance import CookTorrance
from plugins.reflectance.lambertian import Lambertian

SIZE, FOCAL, SPP, REPEATS = 256, 600.0, 8, 5


def _bench_device(device: torch.device) -> dict:
    context = BuildContext(device, cache_dir(), build=None)
    name, model_vertices, faces, uvs = face_mesh(device)
    rotation = torch.tensor([[math.pi, 0.0, 0.0]], device=device)
    translation = torch.tensor([[0.0, 0.0, 500.0]], device=device)
    vertices = apply_pose(model_vertices[None], rotation, translation)
    camera = Camera(torch.full((1,), FOCAL, device=device), SIZE, SIZE)
    textures = Textures(torch.full((1, 256, 256, 3), 0.45, device=device),
                        torch.full((1, 256, 256, 3), 0.06, device=device),
                        torch.full((1, 256, 256, 1), 0.4, device=device))
    lighting = SHLighting(SHParams(), context)
    light = lighting.initial(1)
    light[:, 1:4] = torch.tensor([-0.5, -0.8, 0.4], device=device)[:, None]
    renderers = {"rasterizer": build("renderer", "rasterizer", device=device.type)}
    for path_tracer in ("mitsuba", "redner"):
        try:
            renderers[path_tracer] = build("renderer", path_tracer, device=device.type, spp=SPP)
        except FaceReconError as exc:
            print(f"   {path_tracer} unavailable on {device.type}: {exc}", flush=True)
    results = {"mesh": name, "triangles": int(faces.shape[0]), "timings": []}
    for reflectance in (Lambertian(LambertianParams(), context), CookTorrance(CookTorranceParams(), context)):
        def scene(v, lt, tex) -> Scene:
            return Scene(Mesh(v, faces, uvs, vertex_normals(v, faces)), camera, tex, lt, lighting, reflectance)

        for renderer_name, renderer in renderers.items():
            def forward() -> None:
                with torch.no_grad():
                    renderer.render(scene(vertices, light, textures))

            def forward_backward() -> None:
                v = vertices.detach().requires_grad_()
                lt = light.detach().requires_grad_()
                tex = Textures(textures.diffuse.detach().requires_grad_(), textures.specular, textures.roughness)
                renderer.render(scene(v, lt, tex)).image.mean().backward()

            first, fwd, fwd_median = time_call(forward, device, REPEATS)
            _, fwd_bwd, fwd_bwd_median = time_call(forward_backward, device, REPEATS)
            entry = {
                "renderer": renderer_name, "reflectance": type(reflectance).__name__,
                "spp": None if renderer_name == "rasterizer" else SPP,
                "first_call_ms": 1000.0 * first,
                "forward_ms": 1000.0 * fwd, "forward_backward_ms": 1000.0 * fwd_bwd,
                "forward_median_ms": 1000.0 * fwd_median, "forward_backward_median_ms": 1000.0 * fwd_bwd_median,
            }
            print(f"   {device.type} {entry}", flush=True)
            results["timings"].append(entry)
    reference = {t["reflectance"]: t for t in results["timings"] if t["renderer"] == "rasterizer"}
    for entry in results["timings"]:
        base = reference[entry["reflectance"]]
        entry["forward_ratio"] = entry["forward_ms"] / base["forward_ms"]
        entry["forward_backward_ratio"] = entry["forward_backward_ms"] / base["forward_backward_ms"]
    return results


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(device, t) for device, r in results["devices"].items() for t in r["timings"]]
    labels = [f"{d}\n{t['renderer']}\n{t['reflectance']}" for d, t in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(rows)), 4))
    ax.bar([i - 0.2 for i in x], [t["forward_ms"] for _, t in rows], 0.4, label="forward")
    ax.bar([i + 0.2 for i in x], [t["forward_backward_ms"] for _, t in rows], 0.4, label="forward+backward")
    for i, (_, t) in zip(x, rows):
        if t["renderer"] != "rasterizer":
            ax.annotate(f"×{t['forward_ratio']:.1f} / ×{t['forward_backward_ratio']:.1f}",
                        (i, max(t["forward_ms"], t["forward_backward_ms"])), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("ms per image (fastest of %d)" % REPEATS)
    ax.set_title(f"{SIZE}×{SIZE}, {results['mesh']} ({results['triangles']} triangles), path tracers {SPP} spp")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(output_dir: Path) -> dict:
    """Time both renderers on CPU (and CUDA when present); write renderers.json and renderers.png."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    per_device = {device.type: _bench_device(device) for device in devices}
    first = next(iter(per_device.values()))
    results = {
        "image_size": SIZE, "focal": FOCAL, "spp": SPP, "repeats": REPEATS, "mesh": first["mesh"],
        "triangles": first["triangles"], "torch_threads": torch.get_num_threads(), "devices": per_device,
    }
    with atomic_write(output_dir / "renderers.json") as handle:
        json.dump(results, handle, indent=2)
    _plot(results, output_dir / "renderers.png")
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results")), indent=2))
