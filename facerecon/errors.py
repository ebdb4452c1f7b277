"""Errors meant for the user: the CLI prints their message (one paragraph) without a traceback."""
from __future__ import annotations

__all__ = ["FaceReconError"]


class FaceReconError(Exception):
    """Base of every error caused by input, configuration or environment, not by a bug.

    Attributes:
        exit_code: process exit status the CLI uses (2 for recipe/usage errors, 1 otherwise).
    """

    exit_code = 1
