"""Pictures for people: a difference heat-map and a mask overlay."""
from __future__ import annotations

import torch

# A compact perceptual ramp (black -> blue -> magenta -> orange -> yellow), 'inferno'-like.
_RAMP = torch.tensor([[0.0, 0.0, 0.02], [0.26, 0.04, 0.41], [0.58, 0.15, 0.40],
                      [0.87, 0.32, 0.23], [0.99, 0.65, 0.04], [0.98, 1.0, 0.64]])


def heatmap(d: torch.Tensor, scale: float) -> torch.Tensor:
    """Colour ``[B, H, W]`` differences as ``[B, H, W, 3]``; ``scale`` (the high threshold) maps to 2/3 of the ramp."""
    t = (d / max(scale * 1.5, 1e-6)).clamp(0, 1) * (len(_RAMP) - 1)
    i0 = t.floor().long().clamp(max=len(_RAMP) - 2)
    f = (t - i0.float()).unsqueeze(-1)
    ramp = _RAMP.to(d.device)
    return ramp[i0] * (1 - f) + ramp[i0 + 1] * f


def overlay(image: torch.Tensor, mask: torch.Tensor, color=(1.0, 0.2, 0.1), opacity: float = 0.5,
            outline: bool = True) -> torch.Tensor:
    """Tint ``image`` ``[B, H, W, 3]`` where ``mask`` ``[B, H, W]`` is set, and draw its outline."""
    c = torch.tensor(color, device=image.device, dtype=image.dtype)
    m = mask.unsqueeze(-1).to(image.dtype)
    out = image * (1 - opacity * m) + c * (opacity * m)
    if outline:
        hard = (mask > 0.5).float().unsqueeze(1)
        edge = torch.nn.functional.max_pool2d(hard, 3, 1, 1) - (-torch.nn.functional.max_pool2d(-hard, 3, 1, 1))
        e = edge[:, 0].unsqueeze(-1)
        out = out * (1 - e) + c * e
    return out.clamp(0, 1)
