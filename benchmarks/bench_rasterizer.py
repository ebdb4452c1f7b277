"""Rasterizer speed: forward and forward+backward at 256×256, batch 1 and 8, per reflectance.

The mesh is the ``bfm-lite`` mean face (~99k triangles) when that model can be built, else a UV
sphere of ~100k triangles, posed as NextFace initialises (rotation (π, 0, 0), 500 mm away) with a
focal of 600 px, so it covers ~60 % of the image. Timings are medians of a few runs, in ms per
image; "forward" runs without autograd, "forward+backward" computes vertex normals from the
vertices, renders, and back-propagates to vertices, light and diffuse map.

    python benchmarks/bench_rasterizer.py [output_dir]
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch

from facerecon.api import cache_dir
from facerecon.geometry import apply_pose, vertex_normals
from facerecon.interfaces import BuildContext, Camera, Mesh, Scene, Textures
from facerecon.io import atomic_write
from plugins.lighting import SHParams
from plugins.lighting.sh import SHLighting
from plugins.reflectance import CookTorranceParams, LambertianParams
from plugins.reflectance.cook_torrance import CookTorrance
from plugins.reflectance.lambertian import Lambertian
from benchmarks.common import face_mesh, time_call
from plugins.renderers import RasterizerParams
from plugins.renderers.rasterizer import Rasterizer

SIZE, FOCAL, BATCHES, REPEATS = 256, 600.0, (1, 8), 5


def _bench_device(device: torch.device) -> dict:
    context = BuildContext(device, cache_dir(), build=None)
    name, model_vertices, faces, uvs = face_mesh(device)
    lighting = SHLighting(SHParams(), context)
    renderer = Rasterizer(RasterizerParams(), context)
    results = {"mesh": name, "triangles": int(faces.shape[0]), "vertices": int(model_vertices.shape[0]), "timings": []}
    for batch in BATCHES:
        rotation = torch.tensor([[math.pi, 0.0, 0.0]], device=device).expand(batch, 3)
        translation = torch.tensor([[0.0, 0.0, 500.0]], device=device).expand(batch, 3)
        vertices = apply_pose(model_vertices.expand(batch, -1, -1), rotation, translation)
        camera = Camera(torch.full((batch,), FOCAL, device=device), SIZE, SIZE)
        textures = Textures(torch.full((batch, 256, 256, 3), 0.45, device=device),
                            torch.full((batch, 256, 256, 3), 0.06, device=device),
                            torch.full((batch, 256, 256, 1), 0.4, device=device))
        light = lighting.initial(batch)
        light[:, 1:4] = 0.5
        for reflectance in (Lambertian(LambertianParams(), context), CookTorrance(CookTorranceParams(), context)):
            def scene(v, lt, tex) -> Scene:
                return Scene(Mesh(v, faces, uvs, vertex_normals(v, faces)), camera, tex, lt, lighting, reflectance)

            def forward() -> None:
                with torch.no_grad():
                    renderer.render(scene(vertices, light, textures))

            def forward_backward() -> None:
                v = vertices.detach().requires_grad_()
                lt = light.detach().requires_grad_()
                tex = Textures(textures.diffuse.detach().requires_grad_(), textures.specular, textures.roughness)
                out = renderer.render(scene(v, lt, tex))
                (out.image.mean() + out.mask.mean()).backward()

            with torch.no_grad():
                covered = int((renderer.render(scene(vertices, light, textures)).triangle_id >= 0).sum()) // batch
            entry = {
                "batch": batch,
                "reflectance": type(reflectance).__name__,
                "covered_pixels": covered,
                "forward_ms_per_image": 1000.0 * time_call(forward, device, REPEATS)[2] / batch,
                "forward_backward_ms_per_image": 1000.0 * time_call(forward_backward, device, REPEATS)[2] / batch,
            }
            print(f"   {device.type} {entry}", flush=True)
            results["timings"].append(entry)
    return results


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(device, t) for device, r in results["devices"].items() for t in r["timings"]]
    labels = [f"{d}\n{t['reflectance']}\nB={t['batch']}" for d, t in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4))
    ax.bar([i - 0.2 for i in x], [t["forward_ms_per_image"] for _, t in rows], 0.4, label="forward")
    ax.bar([i + 0.2 for i in x], [t["forward_backward_ms_per_image"] for _, t in rows], 0.4, label="forward+backward")
    ax.axhline(150, color="grey", linestyle="--", linewidth=1, label="150 ms target")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("ms per image")
    ax.set_title(f"rasterizer {SIZE}×{SIZE}, {results['mesh']} ({results['triangles']} triangles)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(output_dir: Path) -> dict:
    """Time the rasterizer on CPU (and CUDA when present); write rasterizer.json and rasterizer.png."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    per_device = {device.type: _bench_device(device) for device in devices}
    first = next(iter(per_device.values()))
    results = {
        "image_size": SIZE, "focal": FOCAL, "repeats": REPEATS, "mesh": first["mesh"],
        "triangles": first["triangles"], "torch_threads": torch.get_num_threads(),
        "devices": per_device,
    }
    with atomic_write(output_dir / "rasterizer.json") as handle:
        json.dump(results, handle, indent=2)
    _plot(results, output_dir / "rasterizer.png")
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results")), indent=2))
