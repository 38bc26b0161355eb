"""The few ComfyUI services the nodes use, in one place.

ComfyUI is imported lazily and optionally, so the node modules also import (and can be checked)
outside a running server; inside ComfyUI these give the compute device, the device outputs live
on, the progress bar, interruption, and the models folder.
"""

from __future__ import annotations

import dataclasses
import os

import torch

from ..smartmask.interrupt import set_check

FACE_MODELS = "facedetection"


def compute_device() -> torch.device:
    try:
        import comfy.model_management as mm

        return mm.get_torch_device()
    except ImportError:
        return torch.device("cpu")


def output_device() -> torch.device:
    try:
        import comfy.model_management as mm

        return mm.intermediate_device()
    except ImportError:
        return torch.device("cpu")


def check_interrupted() -> None:
    try:
        import comfy.model_management as mm
    except ImportError:
        return
    mm.throw_exception_if_processing_interrupted()


def install_interrupt_check() -> None:
    """Let ComfyUI's Cancel reach the core's checkpoints (between the stages of a frame, and between
    the frames of the face detection, which runs in a worker thread), not only the progress bar's
    per-frame updates. ComfyUI is imported only when a checkpoint is reached (inside a node's run),
    not at pack import: importing ``comfy.model_management`` outside a configured server picks a
    device; outside ComfyUI the check does nothing."""
    set_check(lambda _stage: check_interrupted())


def progress(total: int):
    """A callback ``(done, total)`` that drives ComfyUI's progress bar and honours Cancel."""
    try:
        from comfy.utils import ProgressBar

        bar = ProgressBar(total)
    except ImportError:
        bar = None

    def update(done: int, _total: int) -> None:
        check_interrupted()
        if bar is not None:
            bar.update_absolute(done, total)

    return update


def face_model_dirs() -> list[str]:
    """``models/facedetection`` in every models location ComfyUI knows (extra_model_paths too)."""
    try:
        import folder_paths
    except ImportError:
        return []
    if FACE_MODELS not in folder_paths.folder_names_and_paths:
        folder_paths.folder_names_and_paths[FACE_MODELS] = (
            [os.path.join(folder_paths.models_dir, FACE_MODELS)],
            {".onnx"},
        )
    dirs = list(folder_paths.get_folder_paths(FACE_MODELS))
    return dirs or [os.path.join(folder_paths.models_dir, FACE_MODELS)]


def options_from_inputs(cls, inputs: dict, renamed: dict | None = None):
    """The options dataclass ``cls`` built from a node's widget inputs, by name: each input fills the
    field of the same name (``renamed`` maps the few input names that differ from their field's).
    An input without a field is an error, so a new input cannot be dropped silently."""
    renamed = renamed or {}
    values = {renamed.get(name, name): value for name, value in inputs.items()}
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise TypeError(f"{cls.__name__} has no field for the node inputs {unknown}")
    return cls(**values)


def to_compute(*tensors):
    dev = compute_device()
    return [t.to(dev) if isinstance(t, torch.Tensor) else t for t in tensors]


def to_output(*tensors):
    dev = output_device()
    return tuple(t.to(dev) if isinstance(t, torch.Tensor) else t for t in tensors)


def advanced(widget):
    """``widget`` (a V3 input) marked advanced, so the editor folds it away. ComfyUI 0.3.75's inputs
    take no ``advanced`` argument; the key travels in their ``extra_dict``, which ``/object_info``
    merges into the input's options: the same ``"advanced": True`` the classic input specs had."""
    widget.extra_dict["advanced"] = True
    return widget
