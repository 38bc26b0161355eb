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
    3 (RGB) or 4 (RGBA: the alpha channel is dropped, as ComfyUI's own LoadImage does), of any
    float dtype with values in 0..1 (a slight overshoot is clamped). Integer tensors, values on a
    0..255 scale, NaN and empty batches are SmartMaskErrors (see ``_plain``, ``_finite_unit``).
    """
    if not isinstance(t, torch.Tensor):
        raise SmartMaskError(f"{name}: expected an IMAGE tensor, got {type(t).__name__}")
    t = _plain(t, name, "IMAGE")
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4:
        raise SmartMaskError(
            f"{name}: expected an IMAGE of shape [batch, height, width, channels], got {list(t.shape)}"
        )
    _not_empty(t, name)
    c = t.shape[-1]
    if c == 4:
        t = t[..., :3]
    elif c == 1:
        t = t.expand(-1, -1, -1, 3)
    elif c != 3:
        raise SmartMaskError(
            f"{name}: expected 1, 3 or 4 channels, got {c} (shape {list(t.shape)}); "
            "is this a MASK or a LATENT connected to an IMAGE input?"
        )
    if t.shape[1] < 2 or t.shape[2] < 2:
        raise SmartMaskError(f"{name}: image is {t.shape[2]}x{t.shape[1]} pixels; at least 2x2 is needed")
    if _is_checked(t):
        return t
    return _mark_checked(_finite_unit(t.float(), name))


def as_mask(t: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Return ``t`` as float32 ``[B, H, W]`` in 0..1 (accepts ``[H, W]`` and ``[B, 1, H, W]``)."""
    if not isinstance(t, torch.Tensor):
        raise SmartMaskError(f"{name}: expected a MASK tensor, got {type(t).__name__}")
    t = _plain(t, name, "MASK")
    if t.ndim == 2:
        t = t.unsqueeze(0)
    elif t.ndim == 4 and t.shape[1] == 1:
        t = t[:, 0]
    elif t.ndim == 4 and t.shape[-1] in (1, 3, 4):
        raise SmartMaskError(
            f"{name}: got an IMAGE {list(t.shape)} where a MASK is expected; "
            "use ComfyUI's 'Convert Image to Mask' node first"
        )
    if t.ndim != 3:
        raise SmartMaskError(f"{name}: expected a MASK of shape [batch, height, width], got {list(t.shape)}")
    _not_empty(t, name)
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


# Values a little outside 0..1 come from resampling overshoot or a VAE decode and are clamped;
# beyond this margin the tensor is on another scale (usually 0..255), and clamping it would turn
# the picture almost white without a word.
RANGE_MARGIN = 0.5


def _plain(t: torch.Tensor, name: str, kind: str) -> torch.Tensor:
    """``t`` as a tensor Smart Mask can compute with, or a SmartMaskError saying what to change.

    Integer tensors are refused rather than divided by a guessed 255 or 65535: a node that hands
    out uint8 pixels breaks ComfyUI's IMAGE contract, and the user should know which node it was.
    Boolean masks are exact 0/1 and are taken as they are. Gradients are never needed here: a
    tensor that requires grad is detached (the result does not require grad).
    """
    if t.is_complex():
        raise SmartMaskError(f"{name}: got a complex tensor ({t.dtype}); a {kind} must be real, float 0..1")
    if t.dtype == torch.bool:
        return t.float()
    if not t.is_floating_point():
        rng = ""
        if t.numel():
            lo, hi = int(t.min()), int(t.max())
            rng = f", values {lo}..{hi}"
        raise SmartMaskError(
            f"{name}: got an integer tensor ({str(t.dtype).replace('torch.', '')}, shape "
            f"{list(t.shape)}{rng}); a ComfyUI {kind} is float in 0..1: convert it with "
            f".float() / 255 (8-bit) or / 65535 (16-bit), or load it with a node that outputs "
            f"a standard {kind}"
        )
    return t.detach() if t.requires_grad else t


def _not_empty(t: torch.Tensor, name: str) -> None:
    """A batch of 0 frames (an empty image list, a filter that let nothing through) has nothing to
    compute on: say so instead of failing deep inside with a reduction error."""
    if t.shape[0] == 0:
        raise SmartMaskError(
            f"{name}: the batch is empty (0 frames, shape {list(t.shape)}); connect a node that "
            "outputs at least one frame"
        )
    if 0 in t.shape:
        raise SmartMaskError(f"{name}: the tensor is empty (shape {list(t.shape)})")


def _finite_unit(t: torch.Tensor, name: str) -> torch.Tensor:
    """``t`` checked for NaN/inf and for its value range, and clamped to 0..1, in one min/max pass
    (no copy when already in range)."""
    lo, hi = (float(v) for v in torch.aminmax(t))  # NaN propagates, inf shows as the min or max
    if not (math.isfinite(lo) and math.isfinite(hi)):
        check_finite(t, name)
    if lo < -RANGE_MARGIN or hi > 1.0 + RANGE_MARGIN:
        hint = (
            "this looks like 0..255 pixel values: divide by 255"
            if -RANGE_MARGIN <= lo and hi <= 255.5
            else "rescale it to 0..1"
        )
        raise SmartMaskError(
            f"{name}: values run from {lo:g} to {hi:g}, but IMAGE and MASK values must be in 0..1; "
            f"{hint} before Smart Mask"
        )
    return t.clamp(0.0, 1.0) if lo < 0.0 or hi > 1.0 else t


def check_finite(t: torch.Tensor, name: str) -> None:
    """NaN or inf would propagate into every blur and composite; stop with a clear message instead."""
    if not torch.isfinite(t.sum()):  # one reduction pass; a NaN or inf anywhere poisons the sum
        bad = int((~torch.isfinite(t)).sum())
        raise SmartMaskError(
            f"{name}: contains {bad} NaN or infinite values (often a VAE decode in fp16 that "
            "overflowed); decode again, e.g. with --fp32-vae, before Smart Mask"
        )


def batch_size(*tensors: torch.Tensor | None) -> int:
    """Common batch size: a batch of 1 broadcasts against N; any other mismatch is an error."""
    sizes = {int(t.shape[0]) for t in tensors if t is not None}
    sizes.discard(1)
    if len(sizes) > 1:
        raise SmartMaskError(
            f"batch sizes {sorted(sizes)} do not match: give every input the same number of "
            "frames, or a single frame that is used for all of them"
        )
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
    x = F.interpolate(
        m.unsqueeze(1), size=(height, width), mode="bilinear", align_corners=False, antialias=m.shape[1] > height
    )
    return x[:, 0].clamp(0.0, 1.0)


# An editor's size rounding: a side rounded up or down to one of these multiples...
ROUNDING_MULTIPLES = (8, 16, 32, 64)
# ...where the coarse ones (32, 64) count only when they move the side by at most this fraction of it
# (a 40 px side "rounded" to 64 is a pad, not a rounding)...
COARSE_ROUNDING_LIMIT = 0.05
# ...or a side off by a few pixels: this many, or this fraction of the side, whichever is more.
FEW_PIXELS, FEW_PIXELS_FRACTION = 2, 0.005
# Editors that work at another resolution change the size by far more than this; closer to the
# original's size an edit is at the original's scale.
SAME_SCALE = 0.1


def _rounded_side(expected: float, got: int) -> bool:
    """Whether a side of ``got`` pixels can be ``expected`` (the original's side at the edit's scale)
    after an editor's rounding."""
    if abs(got - expected) <= max(FEW_PIXELS, FEW_PIXELS_FRACTION * expected):
        return True
    for m in ROUNDING_MULTIPLES:
        if got % m or got not in (m * math.floor(expected / m), m * math.ceil(expected / m)):
            continue
        if m <= 16 or abs(got - expected) <= COARSE_ROUNDING_LIMIT * expected:
            return True
    return False


def sizes_compatible(oh: int, ow: int, eh: int, ew: int) -> bool:
    """Whether an ``ew x eh`` edited image is the ``ow x oh`` original's framing, at the same or
    another scale, with each side possibly rounded by the editor (see ``ROUNDING_MULTIPLES``).

    The allowance is relative to the image: a 16 px pad on a 64 px picture is a quarter of it and
    is refused, while a 1000 px side rounded to 1008 is accepted. Within ``SAME_SCALE`` of the
    original's size the edit is taken to be at the original's scale (a pad then cannot pass for a
    rescale); beyond it the scale is taken from either side (the other one may be the rounded one).
    """
    same = abs(eh / oh - 1.0) < SAME_SCALE and abs(ew / ow - 1.0) < SAME_SCALE
    for s in (1.0,) if same else (ew / ow, eh / oh):
        if _rounded_side(oh * s, eh) and _rounded_side(ow * s, ew):
            return True
    return False


def match_size(original: torch.Tensor, edited: torch.Tensor, resize: bool = True) -> torch.Tensor:
    """Bring ``edited`` to the original's size.

    Editors round sizes to multiples of 8 or 16, or work at another resolution altogether; with
    ``resize`` the edited image is resized to the original's size (documented behaviour), otherwise
    a size mismatch is an error. A size that is not the original's framing at some scale, give or
    take such a rounding (``sizes_compatible``), is always an error: the edited image was cropped or
    padded, and stretching it would misalign every pixel and the mask would cover the whole frame.
    """
    oh, ow = original.shape[1:3]
    eh, ew = edited.shape[1:3]
    if (oh, ow) == (eh, ew):
        return edited
    msg = f"original is {ow}x{oh} but edited is {ew}x{eh}"
    if not resize:
        raise SmartMaskError(f"{msg}; enable resizing of the edited image or resize it first")
    if not sizes_compatible(oh, ow, eh, ew):
        raise SmartMaskError(
            f"{msg}: that is more than an editor's rounding to a multiple of 8 or 16 (or a few "
            "pixels) and the aspect ratios differ, so the edited image was cropped or padded; "
            "crop it back to the original framing first"
        )
    return resize_image(edited, oh, ow)


def match_mask(mask: torch.Tensor, height: int, width: int, name: str = "mask") -> torch.Tensor:
    """A mask of another size is resized when the aspect ratio agrees, otherwise an error."""
    mh, mw = mask.shape[1:3]
    if (mh, mw) == (height, width):
        return mask
    if abs((mw / mh) / (width / height) - 1.0) > 0.03:
        raise SmartMaskError(
            f"{name} is {mw}x{mh} but the image is {width}x{height}; "
            "their aspect ratios differ, so the mask cannot be matched to the image"
        )
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


# A grow or gap-closing radius up to this many pixels is always allowed (tiny images keep the
# Feather node's defaults working); beyond it, at most this fraction of the image's short side.
PIXEL_SIZE_FLOOR, PIXEL_SIZE_FRACTION = 16, 0.25


def check_pixel_sizes(height: int, width: int, **sizes: float) -> None:
    """Refuse grow / close radii (pixels, by name) that would spread a mask over most of the frame.

    A closing radius of a quarter of the short side bridges any two regions of the picture, and
    with the frame's border it fills the whole mask: the result would look like a bug, so it is
    an error that says what the limit is for this image.
    """
    limit = max(PIXEL_SIZE_FLOOR, int(PIXEL_SIZE_FRACTION * min(height, width)))
    for name, v in sizes.items():
        if abs(v) > limit:
            raise SmartMaskError(
                f"{name} = {v:g} px is more than a quarter of this {width}x{height} image's short "
                f"side: the mask would spread over most of the frame; use at most {limit} px here"
            )
