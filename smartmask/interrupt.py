"""Cancellation points for long work.

The core calls ``checkpoint(stage)`` between the stages of a frame (and between the frames of the
face detection); a host that can cancel (the ComfyUI nodes: its Cancel button) installs a check
with ``set_check`` that raises when the user asked to stop. Without one, a checkpoint does nothing,
so the command line and plain Python use are unaffected.

The check is process-wide on purpose: ComfyUI's own interrupt flag is, and the face detection of
``pipeline.auto`` runs in a worker thread that must see it too.
"""

from __future__ import annotations

from collections.abc import Callable

_check: Callable[[str], None] | None = None


def set_check(check: Callable[[str], None] | None) -> None:
    """Install ``check(stage)``, which raises to cancel (None removes it)."""
    global _check
    _check = check


def checkpoint(stage: str = "") -> None:
    """Raise the host's cancellation exception here if the user asked to stop. ``stage`` names the
    point ("difference", "feather", "composite", "faces"), which the check may use (tests do)."""
    if _check is not None:
        _check(stage)
