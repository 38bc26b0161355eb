"""Input validation and shape plumbing shared by every stage.

ComfyUI hands nodes whatever the upstream node produced: RGBA from a PNG with alpha, a single
grayscale channel, a frame without a batch axis, NaN from a diverged VAE decode, an edited image
whose size an editor rounded to a multiple of 16. These helpers turn all of that into one
canonical form, or raise ``SmartMaskError`` with a message that tells the user what to change,
so no stage ever computes a silently wrong image.
"""
from __future__ import annotations

import math
import weakref

import cv2
import numpy as np
import torch
import torch.nn.functional as F


class SmartMaskError(ValueError):
    """Bad input that the user can fix; the message says how."""


def as_image(t: torch.Tensor, name: str = "image") -> torch.Tensor:
    """Return ``t`` as float32 ``[B, H, W, 3]``.

    Accepts ``[H, W, C]`` or ``[B, H, W, C]`` with C = 1 (grayscale, repeated to RGB),
    3 (RGB) or 4 (RGBA: the alpha channel is dropped, as ComfyUI's own LoadImage does).
    """
    if not isinstance(t, torch.Tensor):
        raise SmartMaskError(f"{name}: expected an IMAGE tensor, got {type(t).__name__}")
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4:
        raise SmartMaskError(f"{name}: expected an IMAGE of shape [batch, height, width, channels], got {list(t.shape)}")
    c = t.shape[-1]
    if c == 4:
        t = t[..., :3]
    elif c == 1:
        t = t.expand(-1, -1, -1, 3)
    elif c != 3:
        raise SmartMaskError(f"{name}: expected 1, 3 or 4 channels, got {c} (shape {list(t.shape)}); "
                             "is this a MASK or a LATENT connected to an IMAGE input?")
    if t.shape[1] < 2 or t.shape[2] < 2:
        raise SmartMaskError(f"{name}: image is {t.shape[2]}x{t.shape[1]} pixels; at least 2x2 is needed")
    if _is_checked(t):
        return t
    return _mark_checked(_finite_unit(t.float(), name))


def as_mask(t: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Return ``t`` as float32 ``[B, H, W]`` in 0..1 (accepts ``[H, W]`` and ``[B, 1, H, W]``)."""
    if not isinstance(t, torch.Tensor):
        raise SmartMaskError(f"{name}: expected a MASK tensor, got {type(t).__name__}")
    if t.ndim == 2:
        t = t.unsqueeze(0)
    elif t.ndim == 4 and t.shape[1] == 1:
        t = t[:, 0]
    elif t.ndim == 4 and t.shape[-1] in (1, 3, 4):
        raise SmartMaskError(f"{name}: got an IMAGE {list(t.shape)} where a MASK is expected; "
                             "use ComfyUI's 'Convert Image to Mask' node first")
    if t.ndim != 3:
        raise SmartMaskError(f"{name}: expected a MASK of shape [batch, height, width], got {list(t.shape)}")
    if _is_checked(t):
        return t
    return _mark_checked(_finite_unit(t.float(), name))


# Tensors this module already validated (and their version counter), so that a pipeline passing
# the same tensor through several stages pays for the NaN check and the clamp once.
# (Keyed by id with a weak reference: tensors compare element-wise, so they cannot be dict keys.)
_checked: dict[int, tuple] = {}


def _version(t: torch.Tensor) -> int:
    # ComfyUI runs nodes under torch.inference_mode, whose tensors keep no version counter;
    # Smart Mask never writes into its inputs, so for those the identity alone is the key
    return -1 if t.is_inference() else t._version


def _mark_checked(t: torch.Tensor) -> torch.Tensor:
    key = id(t)
    _checked[key] = (weakref.ref(t, lambda _, k=key: _checked.pop(k, None)), _version(t))
    return t


def _is_checked(t: torch.Tensor) -> bool:
    entry = _checked.get(id(t))
    return t.dtype == torch.float32 and entry is not None and entry[0]() is t and entry[1] == _version(t)


def _finite_unit(t: torch.Tensor, name: str) -> torch.Tensor:
    """``t`` checked for NaN/inf and clamped to 0..1, in one min/max pass (no copy when already in range)."""
    lo, hi = (float(v) for v in torch.aminmax(t))  # NaN propagates, inf shows as the min or max
    if not (math.isfinite(lo) and math.isfinite(hi)):
        check_finite(t, name)
    return t.clamp(0.0, 1.0) if lo < 0.0 or hi > 1.0 else t


def check_finite(t: torch.Tensor, name: str) -> None:
    """NaN or inf would propagate into every blur and composite; stop with a clear message instead."""
    if not torch.isfinite(t.sum()):  # one reduction pass; a NaN or inf anywhere poisons the sum
        bad = int((~torch.isfinite(t)).sum())
        raise SmartMaskError(f"{name}: contains {bad} NaN or infinite values (often a VAE decode in fp16 that "
                             "overflowed); decode again, e.g. with --fp32-vae, before Smart Mask")


def batch_size(*tensors: torch.Tensor | None) -> int:
    """Common batch size: a batch of 1 broadcasts against N; any other mismatch is an error."""
    sizes = {int(t.shape[0]) for t in tensors if t is not None}
    sizes.discard(1)
    if len(sizes) > 1:
        raise SmartMaskError(f"batch sizes {sorted(sizes)} do not match: give every input the same number of "
                             "frames, or a single frame that is used for all of them")
    return sizes.pop() if sizes else 1


def expand_batch(t: torch.Tensor | None, n: int) -> torch.Tensor | None:
    """Broadcast a batch of 1 to ``n`` without copying memory."""
    if t is None or t.shape[0] == n:
        return t
    return t.expand(n, *t.shape[1:])


def resize_image(t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize ``[B, H, W, C]`` with antialiasing (bicubic up, area-like antialiased bicubic down)."""
    if t.shape[1] == height and t.shape[2] == width:
        return t
    x = t.permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=True)
    return x.permute(0, 2, 3, 1).clamp(0.0, 1.0)


def resize_mask(m: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize ``[B, H, W]`` bilinearly (masks are smooth, bilinear never overshoots)."""
    if m.shape[1] == height and m.shape[2] == width:
        return m
    x = F.interpolate(m.unsqueeze(1), size=(height, width), mode="bilinear", align_corners=False,
                      antialias=m.shape[1] > height)
    return x[:, 0].clamp(0.0, 1.0)


def match_size(original: torch.Tensor, edited: torch.Tensor, resize: bool = True) -> torch.Tensor:
    """Bring ``edited`` to the original's size.

    Editors round sizes to multiples of 8 or 16, or work at another resolution altogether; with
    ``resize`` the edited image is resized to the original's size (documented behaviour), otherwise
    a size mismatch is an error. Beyond such rounding (up to 16 px per side), an aspect-ratio change of
    more than 3 % is always an error,
    because stretching would misalign every pixel and the mask would cover the whole frame.
    """
    oh, ow = original.shape[1:3]
    eh, ew = edited.shape[1:3]
    if (oh, ow) == (eh, ew):
        return edited
    msg = f"original is {ow}x{oh} but edited is {ew}x{eh}"
    if not resize:
        raise SmartMaskError(f"{msg}; enable resizing of the edited image or resize it first")
    rounded = abs(eh - oh) <= 16 and abs(ew - ow) <= 16  # a multiple-of-8/16/32 rounding
    if not rounded and abs((ew / eh) / (ow / oh) - 1.0) > 0.03:
        raise SmartMaskError(f"{msg}: the aspect ratios differ, so the edited image was cropped or padded; "
                             "crop it back to the original framing first")
    return resize_image(edited, oh, ow)


def match_mask(mask: torch.Tensor, height: int, width: int, name: str = "mask") -> torch.Tensor:
    """A mask of another size is resized when the aspect ratio agrees, otherwise an error."""
    mh, mw = mask.shape[1:3]
    if (mh, mw) == (height, width):
        return mask
    if abs((mw / mh) / (width / height) - 1.0) > 0.03:
        raise SmartMaskError(f"{name} is {mw}x{mh} but the image is {width}x{height}; "
                             "their aspect ratios differ, so the mask cannot be matched to the image")
    return resize_mask(mask, height, width)


def mask_for(ref: torch.Tensor, mask: torch.Tensor, name: str = "mask") -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``mask`` and fit it to ``ref`` (``[B, H, W, ...]``): one batch size (1 broadcasts
    against N), ``ref``'s device, and ``ref``'s size (resized when the aspect ratio agrees).
    Returns ``(ref, mask)``, both broadcast to the common batch size."""
    m = as_mask(mask, name)
    n = batch_size(ref, m)
    ref, m = expand_batch(ref, n), expand_batch(m, n)
    return ref, match_mask(m.to(ref.device), ref.shape[1], ref.shape[2], name)


def new_like(t: torch.Tensor, shape=None, zeros: bool = False) -> torch.Tensor:
    """An uninitialised (or, with ``zeros``, zero) float32 tensor on ``t``'s device, shaped like ``t``
    or as ``shape``.

    On the CPU the memory comes from numpy, which asks the kernel for huge pages for large arrays:
    a full-resolution result then costs a few page faults instead of one per 4 KiB page (timings:
    benchmarks/README.md, "Fast paths"). Zeros come from ``calloc``,
    so pages that are never written cost nothing.
    """
    shape = tuple(t.shape if shape is None else shape)
    if t.device.type != "cpu":
        return (torch.zeros if zeros else torch.empty)(shape, dtype=torch.float32, device=t.device)
    return torch.from_numpy((np.zeros if zeros else np.empty)(shape, np.float32))


def nonzero_box(m: torch.Tensor) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) bounding all frames' pixels where ``m`` ``[B, H, W]`` (>= 0) is above 0, or None.

    Maxima along rows, then along columns of the hit rows only: five times faster than
    ``(m > 0).any(...)`` on a full-resolution mask.
    """
    rows = torch.nonzero(m.amax(dim=2).amax(dim=0) > 0).flatten()
    if rows.numel() == 0:
        return None
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    cols = torch.nonzero(m[:, y0:y1].amax(dim=1).amax(dim=0) > 0).flatten()
    return y0, y1, int(cols[0]), int(cols[-1]) + 1


def binarize(m: torch.Tensor, level: float = 0.5) -> torch.Tensor:
    """``(m > level).float()`` for a mask the caller owns: a contiguous CPU float32 mask is
    thresholded in place by OpenCV (at full resolution a tenth of the time, and no new array);
    any other comes back as a new tensor."""
    if m.device.type == "cpu" and m.dtype == torch.float32 and m.is_contiguous():
        a = m.numpy().reshape(-1, m.shape[-1])
        cv2.threshold(a, level, 1.0, cv2.THRESH_BINARY, dst=a)
        return m
    return (m > level).float()


def copy_outside(out: torch.Tensor, src: torch.Tensor, box: tuple[int, int, int, int]) -> None:
    """Copy ``src`` into ``out`` (``[B, H, W, ...]``) everywhere except inside ``box``.

    On the CPU numpy does the copying: torch copies strided views such as a column strip several
    times slower (timings: benchmarks/README.md, "Fast paths").
    """
    y0, y1, x0, x1 = box
    if out.device.type == "cpu" and src.device.type == "cpu":
        out, src = out.numpy(), src.detach().numpy()
    out[:, :y0] = src[:, :y0]
    out[:, y1:] = src[:, y1:]
    out[:, y0:y1, :x0] = src[:, y0:y1, :x0]
    out[:, y0:y1, x1:] = src[:, y0:y1, x1:]


def copy_around_box(src: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int, int] | None]:
    """A new tensor (``new_like``) holding ``src`` ``[B, H, W, ...]`` outside the bounding box of
    ``mask`` > 0, and that box: for a result that can differ from ``src`` only where the mask is
    set, the caller then fills the box alone. The box is None, and the copy whole, when the mask
    is 0 everywhere."""
    out, box = new_like(src), nonzero_box(mask)
    if box is None:
        return out.copy_(src), None
    copy_outside(out, src, box)
    return out, box
