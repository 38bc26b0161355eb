"""Smart Mask core: pure tensor functions, no ComfyUI import.

Images are float tensors ``[B, H, W, C]`` in 0..1 (ComfyUI's IMAGE layout) and masks are
``[B, H, W]`` in 0..1 (ComfyUI's MASK layout). Every function works on whatever device its
inputs live on, so the same code runs on the CPU and on a GPU.
"""

__version__ = "0.1.0"
