"""Camera and pose math shared by every component (OpenCV convention, DESIGN §3).

Camera at the origin looking along +z, x right, y down; pinhole with focal in pixels and the
principal point at the image centre. Pose: Euler angles (rx, ry, rz) in radians,
R = Rz·Ry·Rx, v_cam = R·v + t, translation in mm.
"""
from __future__ import annotations

import torch

__all__ = ["euler_to_matrix", "apply_pose", "project", "vertex_normals", "face_normals"]


def euler_to_matrix(angles: torch.Tensor) -> torch.Tensor:
    """Rotation matrices R = Rz·Ry·Rx from Euler angles.

    Args:
        angles: (B, 3) radians (rx, ry, rz).
    Returns:
        (B, 3, 3)
    """
    x, y, z = angles.unbind(-1)
    cx, sx, cy, sy, cz, sz = x.cos(), x.sin(), y.cos(), y.sin(), z.cos(), z.sin()
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).view(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).view(-1, 3, 3)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).view(-1, 3, 3)
    return rz @ ry @ rx


def apply_pose(vertices: torch.Tensor, rotation: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """Model-frame vertices to camera frame: v_cam = R·v + t.

    Args:
        vertices: (B, V, 3) mm.
        rotation: (B, 3) Euler angles in radians.
        translation: (B, 3) mm.
    Returns:
        (B, V, 3) camera-frame vertices in mm.
    """
    return vertices @ euler_to_matrix(rotation).transpose(1, 2) + translation[:, None, :]


def project(
    points: torch.Tensor, focal: torch.Tensor, width: int, height: int, principal: torch.Tensor | None = None
) -> torch.Tensor:
    """Pinhole projection of camera-frame points to pixel coordinates.

    Pixel centres are at integer + 0.5 (pixel (0, 0) covers [0, 1)²); the principal point is
    (width/2, height/2) unless ``principal`` (B, 2) is given.

    Args:
        points: (B, N, 3) camera-frame points, z > 0.
        focal: (B,) focal length in pixels.
    Returns:
        (B, N, 2) pixel coordinates (x right, y down).
    """
    z = points[..., 2:3].clamp(min=1e-6)
    f = focal.view(-1, 1, 1)
    if principal is None:
        centre = points.new_tensor([width / 2.0, height / 2.0])
    else:
        centre = principal[:, None, :]
    return points[..., :2] / z * f + centre


def face_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Unnormalised triangle normals (area-weighted).

    Args:
        vertices: (B, V, 3); faces: (F, 3) long.
    Returns:
        (B, F, 3)
    """
    v0, v1, v2 = (vertices[:, faces[:, i]] for i in range(3))
    return torch.cross(v1 - v0, v2 - v0, dim=-1)


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Unit vertex normals, area-weighted average of incident triangle normals.

    Args:
        vertices: (B, V, 3); faces: (F, 3) long.
    Returns:
        (B, V, 3)
    """
    fn = face_normals(vertices, faces)
    normals = torch.zeros_like(vertices)
    for i in range(3):
        normals = normals.index_add(1, faces[:, i], fn)
    return torch.nn.functional.normalize(normals, dim=-1, eps=1e-12)
