"""Face and landmark detectors: time per photo and per face on the CPU, faces found, landmark error.

Photos (facerecon.testing.photos): the astronaut (512², one frontal face), the cameraman (512²,
one face turned ~70° away), the group photo (1280×720, seven faces of 64-110 px: upright, turned
in-plane by up to 30°, mirrored, the cameraman's) and the group photo at twice the size
(2560×1440). Each face detector (built with its defaults; those not installed are listed as
unavailable) is timed on each photo; a face counts as found when a box's centre lies within a
third of the face's size of the true centre. Each landmark detector is timed per face on the
group photo's true face boxes (with their roll), and its error measured there against the truth:
dlib's landmarks on the frontal portrait, moved with the face (the cameraman has no such truth).
Error = mean landmark distance / outer-eye-corner distance. Each timing is the fastest and the
median of REPEATS runs after a warm-up, on one thread (the TFLite models run on one; dlib is
single-threaded).

    python benchmarks/bench_detectors.py [output_dir]
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import time_call
from facerecon.api import cache_dir
from facerecon.errors import FaceReconError
from facerecon.interfaces import BuildContext
from facerecon.io import atomic_write
from facerecon.testing.photos import PORTRAITS, GroupPhoto, PlacedFace, Placement, group_photo, portrait

REPEATS = 5
FACE_DETECTORS = {  # label: (registered name, parameters)
    "blazeface": ("blazeface", {}),
    "blazeface-short": ("blazeface", {"model": "short"}),
    "blazeface-unchecked": ("blazeface", {"min_presence": 0.0}),
    "dlib": ("dlib", {}),
    "opencv": ("opencv", {}),
    "auto": ("auto", {}),
}
LANDMARK_DETECTORS = ("face-mesh", "dlib")


def _photos() -> dict[str, GroupPhoto]:
    import cv2

    portraits = {name: GroupPhoto(portrait(name), [_whole_portrait(name)]) for name in ("astronaut", "cameraman")}
    group = group_photo()
    large = GroupPhoto(cv2.resize(group.image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC),
                       [_scaled(face, 2.0) for face in group.faces])
    return {**portraits, "group 1280x720": group, "group 2560x1440": large}


def _whole_portrait(name: str) -> PlacedFace:
    """The face of a portrait itself, as a placed face (the identity placement)."""
    box = PORTRAITS[name]
    centre = ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)
    placement = Placement(name, centre, max(box.x1 - box.x0, box.y1 - box.y0))
    return PlacedFace(placement, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), box)


def _scaled(face: PlacedFace, factor: float) -> PlacedFace:
    """A placed face in the photo scaled by ``factor``."""
    box, placement = face.box, face.placement
    placement = replace(placement, centre=tuple(c * factor for c in placement.centre), size=placement.size * factor)
    box = replace(box, x0=box.x0 * factor, y0=box.y0 * factor, x1=box.x1 * factor, y1=box.y1 * factor)
    return PlacedFace(placement, face.to_photo * factor, box)


def _found(boxes, faces) -> int:
    found = 0
    for face in faces:
        centre = np.array([(face.box.x0 + face.box.x1) / 2, (face.box.y0 + face.box.y1) / 2])
        found += any(np.linalg.norm(np.array([(b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2]) - centre) < face.placement.size / 3
                     for b in boxes)
    return found


def _build(builder, kind: str, name: str, params: dict):
    try:
        return builder.build_node(kind, {"type": name, **params}), None
    except FaceReconError as exc:
        return None, str(exc)


def _bench_face_detectors(builder, photos: dict[str, GroupPhoto], cpu) -> dict:
    results = {}
    for label, (name, params) in FACE_DETECTORS.items():
        detector, error = _build(builder, "face_detector", name, params)
        if detector is None:
            results[label] = {"unavailable": error}
            continue
        rows = {}
        for title, photo in photos.items():
            boxes = detector.detect(photo.image)
            first, fastest, median = time_call(lambda: detector.detect(photo.image), cpu, REPEATS)
            found = _found(boxes, photo.faces)
            rows[title] = {
                "faces": len(photo.faces), "found": found, "boxes": len(boxes), "first_ms": 1000 * first,
                "ms": 1000 * fastest, "median_ms": 1000 * median,
                "ms_per_face": 1000 * fastest / max(found, 1),
                **({"source": detector.last_source} if hasattr(detector, "last_source") else {}),
            }
        results[label] = {"photos": rows}
    return results


def _bench_landmarks(builder, group: GroupPhoto, cpu) -> dict:
    reference, _ = _build(builder, "landmark_detector", "dlib", {})
    dlib_faces, _ = _build(builder, "face_detector", "dlib", {})
    truths = {}
    if reference is not None and dlib_faces is not None:
        for name in ("astronaut", "grace_hopper"):
            image = portrait(name)
            truths[name] = reference.detect(image, dlib_faces.detect(image)[0])
    results = {}
    for name in LANDMARK_DETECTORS:
        detector, error = _build(builder, "landmark_detector", name, {})
        if detector is None:
            results[name] = {"unavailable": error}
            continue
        times, errors = [], {}
        for i, face in enumerate(group.faces):
            _, fastest, _ = time_call(lambda: detector.locate(group.image, face.box), cpu, REPEATS)
            times.append(1000 * fastest)
            truth = truths.get(face.placement.source)
            if truth is not None:
                points, expected = detector.detect(group.image, face.box), face.landmarks(truth)
                nme = np.linalg.norm(points - expected, axis=1).mean() / np.linalg.norm(expected[36] - expected[45])
                errors[f"{i}:{face.placement.source} {face.placement.degrees:+.0f}°{' mirrored' if face.placement.mirror else ''}"] = float(nme)
        results[name] = {"ms_per_face": float(np.median(times)), "ms_per_face_fastest": float(np.min(times)),
                         "nme_vs_dlib_truth": errors, "nme_mean": float(np.mean(list(errors.values()))) if errors else None}
    if truths and "face-mesh" in results and "unavailable" not in results["face-mesh"]:
        mesh, _ = _build(builder, "landmark_detector", "face-mesh", {})
        blazeface, _ = _build(builder, "face_detector", "blazeface", {})
        frontal = {}
        for name, truth in truths.items():
            image = portrait(name)
            points = mesh.detect(image, blazeface.detect(image)[0])
            frontal[name] = float(np.linalg.norm(points - truth, axis=1).mean() / np.linalg.norm(truth[36] - truth[45]))
        results["face-mesh"]["frontal_nme_vs_dlib"] = frontal
    return results


def _plot(path: Path, faces: dict, landmarks: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [3, 1]})
    labels = [k for k, v in faces.items() if "photos" in v]
    titles = list(next(iter(faces[k] for k in labels))["photos"]) if labels else []
    width = 0.8 / max(len(labels), 1)
    for j, label in enumerate(labels):
        rows = faces[label]["photos"]
        xs = [i + (j - (len(labels) - 1) / 2) * width for i in range(len(titles))]
        bars = left.bar(xs, [rows[t]["ms"] for t in titles], width, label=label)
        for bar, title in zip(bars, titles):
            left.annotate(f"{rows[title]['found']}/{rows[title]['faces']}", (bar.get_x() + width / 2, bar.get_height()),
                          ha="center", va="bottom", fontsize=6)
    left.set_xticks(range(len(titles)))
    left.set_xticklabels(titles, fontsize=8)
    left.set_yscale("log")
    left.set_ylabel(f"ms per photo (fastest of {REPEATS}); faces found above bars")
    left.set_title("face detection, one CPU thread")
    left.legend(fontsize=7)
    names = [k for k, v in landmarks.items() if "ms_per_face" in v]
    right.bar(names, [landmarks[k]["ms_per_face"] for k in names], color="tab:gray")
    for i, name in enumerate(names):
        if landmarks[name]["nme_mean"] is not None:
            right.annotate(f"NME vs dlib {landmarks[name]['nme_mean']:.3f}", (i, landmarks[name]["ms_per_face"]), ha="center", va="bottom", fontsize=7)
    right.set_ylabel("ms per face (median over the group's faces)")
    right.set_title("landmarks")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(output_dir: Path) -> dict:
    """Time and score every face and landmark detector; write detectors.json and detectors.png."""
    from facerecon.pluginmanager import load_plugins
    from facerecon.recipe.build import Builder

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    cpu = torch.device("cpu")
    builder = Builder(load_plugins().registry, cpu, cache_dir())
    photos = _photos()
    load_before = os.getloadavg()
    faces = _bench_face_detectors(builder, photos, cpu)
    landmarks = _bench_landmarks(builder, photos["group 1280x720"], cpu)
    results = {"repeats": REPEATS, "load_average_before": load_before, "load_average_after": os.getloadavg(),
               "face_detectors": faces, "landmark_detectors": landmarks}
    with atomic_write(output_dir / "detectors.json") as handle:
        json.dump(results, handle, indent=2)
    _plot(output_dir / "detectors.png", faces, landmarks)
    return results


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/results")), indent=2))
