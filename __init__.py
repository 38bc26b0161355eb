"""Smart Mask for ComfyUI: keep everything an AI edit was not meant to change.

ComfyUI imports this file as a package; everything inside the pack is imported relatively,
because ComfyUI has a top-level module named ``nodes`` of its own.
"""

if __package__:
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
else:
    # Imported as a lone module, not as the pack: pytest 8 and later do this with a repository's
    # own __init__.py when the clone's folder name is not a valid module name (the README's
    # `comfyui-smart-mask`). There is no package to import the nodes relatively from then, and
    # the tests import them through `smartmask` / their own fixtures, so none are registered.
    NODE_CLASS_MAPPINGS: dict = {}
    NODE_DISPLAY_NAME_MAPPINGS: dict = {}

WEB_DIRECTORY = "./js"

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]
