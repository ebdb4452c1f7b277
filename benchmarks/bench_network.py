"""DeepNextFace network speed: inference ms per image at batch 1 and 32, training images per second.

For each backbone (timm resnet18, resnet50, resnet152, random weights) at the paper's sizes — 256²
crops, a 1000-d latent, heads generated from bfm-lite's layout (40 identity, 10 expression, SH 3
bands), upconv decoders of 256² diffuse, specular and roughness maps:

- ``encoder_ms``: the encoder alone (ImageNet normalisation and the backbone) per image;
- ``pipeline_ms``: the whole inference from sRGB crops to a face: encoder, heads and the decoded
  camera-frame mesh (vertices, landmarks), as the ``reconstruct`` task runs it when no exporter
  writes maps; ``ratio`` = pipeline / encoder (target: at most 1.3);
- ``maps_ms``: the same with the texture decoder's 256² maps added to the statistical maps (what
  exports with textures need); ``maps_ratio`` = maps / encoder. Vertex normals are computed when
  a render or an export reads them, so neither includes them;
- ``train_images_per_s``: training steps of the rasterizer variant (photometric + landmark +
  prior losses, every group free, AdamW, gradient clipping; bf16 autocast on CUDA) through the
  ``train`` task's :class:`plugins.tasks.training.Trainer`.

Each inference time is the median of rounds that run the encoder, the pipeline and the pipeline
with maps in turn (after a warm-up round), so all three see the same load of a shared machine: 30
rounds at batch 1 (single images take milliseconds), 3 at batch 32. Training: the median of 3
steps at batch 4 on a CPU (so ``make bench`` stays in minutes; one step alone moved ResNet-152
between 1.7 and 2.1 s from run to run) and at batch 64 on CUDA, after a warm-up step. Results:
``network.json``.

    python -m benchmarks.bench_network [output_dir]
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import devices
from facerecon.io import atomic_write

BACKBONES = ("resnet18", "resnet50", "resnet152")
SIZE = 256
RECIPE = """
facerecon: 1
task:
  type: train
  image_size: {size}
  batch_size: {batch}
  tensorboard: false
  network: {{texture_decoder: {{type: upconv}}}}
encoder: {{type: timm, backbone: {backbone}, out_features: 1000, input_size: {size}}}
model: {{type: bfm-lite, texture_size: {size}}}
reflectance: {{type: cook-torrance}}
light: {{type: sh, bands: 3}}
renderer: {{type: rasterizer}}
device: {device}
stages:
  joint:
    steps: 1
    lr: 0.0001
    free: [pose, focal, identity, expression, light, textures]
    losses:
      photo: {{type: photometric, weight: 1000.0}}
      landmarks: {{type: landmark, weight: 0.01}}
      prior: {{type: gaussian-prior, weight: 0.01}}
"""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _interleaved(fns: list, device: torch.device, rounds: int) -> list[float]:
    """Median seconds of each of ``fns`` over ``rounds`` rounds that call each once in turn, after
    a warm-up round: a shared machine's load changes during a run, and interleaving lets every
    function see the same load, so their ratios hold even when the times drift."""
    samples: list[list[float]] = [[] for _ in fns]
    for round_index in range(rounds + 1):
        for fn, times in zip(fns, samples):
            _sync(device)
            started = time.perf_counter()
            fn()
            _sync(device)
            if round_index:
                times.append(time.perf_counter() - started)
    return [statistics.median(times) for times in samples]


def _setup(backbone: str, device: torch.device, batch: int):
    from facerecon.api import cache_dir
    from facerecon.pipeline import FacePipeline
    from facerecon.pluginmanager import load_plugins
    from facerecon.recipe import Builder, load_recipe
    from plugins.tasks.network import build_network

    host = load_plugins()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.yaml"
        path.write_text(RECIPE.format(size=SIZE, batch=batch, backbone=backbone, device=device.type))
        recipe = load_recipe(path, host.registry)
    build = Builder(host.registry, device, cache_dir(), recipe)
    pipeline = FacePipeline(build("model"), build("light"), build("reflectance"), build("renderer"))
    network = build_network(recipe.root, build, pipeline).to(device)
    return recipe, build, pipeline, network


def _faces(pipeline, network, count: int, device: torch.device):
    """Random crops whose landmarks are the mean face's framed as the crops frame faces."""
    from facerecon.pipeline import FaceTargets
    from plugins.tasks.facesets import FaceSet

    gen = torch.Generator().manual_seed(0)
    principal = torch.full((count, 2), SIZE / 2.0)
    zeros = {"rotation": torch.zeros(count, 6), "translation": torch.zeros(count, 3), "focal": torch.zeros(count, 1)}
    values = pipeline.layout.initial(count, device, **{k: v.to(device) for k, v in
                                                       network.heads.framing.camera(zeros, principal, SIZE).items()})
    targets = FaceTargets(image=torch.zeros(count, SIZE, SIZE, 3, device=device), principal=principal.to(device))
    with torch.no_grad():
        decoded = pipeline.decode(values, targets, geometry=False, textures=False)
        landmarks = decoded.camera.project(decoded.landmarks).cpu()
    images = torch.randint(0, 256, (count, SIZE, SIZE, 3), generator=gen, dtype=torch.uint8)
    return FaceSet(images, principal, landmarks, torch.ones(count, 68), [f"face{i}" for i in range(count)])


def _inference(backbone: str, device: torch.device, repeats: dict[int, int]) -> dict:
    from facerecon.pipeline import FaceTargets

    _, _, pipeline, network = _setup(backbone, device, 1)
    network.eval()
    out = {}
    for batch, count in repeats.items():
        images = torch.rand(batch, SIZE, SIZE, 3, device=device)
        principal = torch.full((batch, 2), SIZE / 2.0, device=device)
        targets = FaceTargets(image=images, principal=principal)

        def encoder_only():
            with torch.no_grad():
                network._encoder.encode(images)

        def whole(maps: bool):
            with torch.no_grad():
                values = network(images, principal, textures=maps)
                pipeline.decode(values, targets, textures=maps)

        encoder, geometry, maps = (t / batch for t in _interleaved(
            [encoder_only, lambda: whole(False), lambda: whole(True)], device, count))
        out[f"batch{batch}"] = {"encoder_ms": round(1000 * encoder, 4), "pipeline_ms": round(1000 * geometry, 4),
                                "ratio": round(geometry / encoder, 3), "maps_ms": round(1000 * maps, 4),
                                "maps_ratio": round(maps / encoder, 3)}
    return out


def training_step(backbone: str, device: torch.device, batch: int, steps: int):
    """A trainer of the rasterizer variant in training mode, ready for ``steps`` steps, and one batch
    of ``batch`` faces: ``(trainer, batch)``; ``trainer.step(batch)`` is the step the bench times."""
    from plugins.tasks.train import TrainTask
    from plugins.tasks.training import Distributed, Trainer

    recipe, build, pipeline, network = _setup(backbone, device, batch)
    params = recipe.root.task.params
    stages = TrainTask(params, None)._prepare_stages(recipe.root.stages, build, pipeline, 0)
    trainer = Trainer(network, pipeline, stages, params, Distributed(device=device))
    faces = _faces(pipeline, network, batch, device)
    loader = torch.utils.data.DataLoader(faces, batch_size=batch)
    trainer.begin_stage(0, steps_per_epoch=steps + 1)
    trainer.train_mode()
    return trainer, next(iter(loader))


def _training(backbone: str, device: torch.device, batch: int, steps: int) -> dict:
    from facerecon.runner import reproducible

    trainer, data = training_step(backbone, device, batch, steps)
    with reproducible(device):  # as `facerecon run` trains
        [seconds] = _interleaved([lambda: trainer.step(data)], device, steps)
    return {"batch_size": batch, "seconds_per_step": round(seconds, 3), "train_images_per_s": round(batch / seconds, 2),
            "precision": str(trainer.network.autocast_dtype or "fp32")}


def run(output: Path) -> dict:
    """Every backbone on the CPU and, when present, on CUDA."""
    results = {}
    for device in devices():
        cuda = device.type == "cuda"
        for backbone in BACKBONES:
            print(f"   {backbone} on {device.type}", flush=True)
            entry = {"machine": torch.cuda.get_device_name(device) if cuda else
                     f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores"}
            entry.update(_inference(backbone, device, repeats={1: 30, 32: 3}))
            entry["training"] = _training(backbone, device, batch=64 if cuda else 4, steps=3)
            results[f"{device.type}/{backbone}"] = entry
            print(f"   {json.dumps(entry)}", flush=True)
    output.mkdir(parents=True, exist_ok=True)
    with atomic_write(output / "network.json") as handle:
        json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results"))
