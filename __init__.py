"""Smart Mask for ComfyUI: keep everything an AI edit was not meant to change.

ComfyUI imports this file as a package; everything inside the pack is imported relatively,
because ComfyUI has a top-level module named ``nodes`` of its own.
"""
from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

WEB_DIRECTORY = "./js"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
