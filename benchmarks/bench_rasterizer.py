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
import sys
from pathlib import Path

import torch

from benchmarks.common import bar_plot, devices, posed_face, render_timings
from facerecon.api import cache_dir
from facerecon.interfaces import BuildContext
from facerecon.io import atomic_write
from plugins.lighting import SHParams
from plugins.lighting.sh import SHLighting
from plugins.reflectance import CookTorranceParams, LambertianParams
from plugins.reflectance.cook_torrance import CookTorrance
from plugins.reflectance.lambertian import Lambertian
from plugins.renderers import RasterizerParams
from plugins.renderers.rasterizer import Rasterizer

SIZE, FOCAL, BATCHES, REPEATS = 256, 600.0, (1, 8), 5


def _bench_device(device: torch.device) -> dict:
    context = BuildContext(device, cache_dir(), build=None)
    lighting = SHLighting(SHParams(), context)
    renderer = Rasterizer(RasterizerParams(), context)
    results: dict = {"timings": []}
    for batch in BATCHES:
        face = posed_face(device, batch, SIZE, FOCAL)
        results.update(mesh=face.name, triangles=int(face.faces.shape[0]), vertices=int(face.vertices.shape[1]))
        light = lighting.initial(batch)
        light[:, 1:4] = 0.5
        for reflectance in (Lambertian(LambertianParams(), context), CookTorrance(CookTorranceParams(), context)):
            with torch.no_grad():
                scene = face.scene(face.vertices, light, face.textures, lighting, reflectance)
                covered = int((renderer.render(scene).triangle_id >= 0).sum()) // batch
            seconds = render_timings(renderer, face, light, lighting, reflectance, device, REPEATS)
            entry = {
                "batch": batch,
                "reflectance": type(reflectance).__name__,
                "covered_pixels": covered,
                "forward_ms_per_image": 1000.0 * seconds["forward_median"] / batch,
                "forward_backward_ms_per_image": 1000.0 * seconds["forward_backward_median"] / batch,
            }
            print(f"   {device.type} {entry}", flush=True)
            results["timings"].append(entry)
    return results


def run(output_dir: Path) -> dict:
    """Time the rasterizer on CPU (and CUDA when present); write rasterizer.json and rasterizer.png."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    per_device = {device.type: _bench_device(device) for device in devices()}
    first = next(iter(per_device.values()))
    results = {
        "image_size": SIZE, "focal": FOCAL, "repeats": REPEATS, "mesh": first["mesh"],
        "triangles": first["triangles"], "torch_threads": torch.get_num_threads(),
        "devices": per_device,
    }
    with atomic_write(output_dir / "rasterizer.json") as handle:
        json.dump(results, handle, indent=2)
    rows = [(d, t) for d, r in per_device.items() for t in r["timings"]]
    bar_plot(output_dir / "rasterizer.png", [f"{d}\n{t['reflectance']}\nB={t['batch']}" for d, t in rows],
             [t["forward_ms_per_image"] for _, t in rows], [t["forward_backward_ms_per_image"] for _, t in rows],
             ylabel="ms per image (median)", target=150.0,
             title=f"rasterizer {SIZE}×{SIZE}, {results['mesh']} ({results['triangles']} triangles)")
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results")), indent=2))
