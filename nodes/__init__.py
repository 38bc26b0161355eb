"""ComfyUI node classes (V3 schema, ``comfy_api.v0_0_2``). They only translate between ComfyUI and
the ``smartmask`` core."""

from ._comfy import install_interrupt_check
from .composite import SmartMaskComposite
from .difference_mask import SmartMaskDifference
from .face_guard import SmartMaskFaceGuard
from .feather import SmartMaskFeather
from .mask_preview import SmartMaskPreview
from .smart_mask import SmartMaskAuto

install_interrupt_check()

NODES = [
    SmartMaskDifference,
    SmartMaskFaceGuard,
    SmartMaskFeather,
    SmartMaskComposite,
    SmartMaskPreview,
    SmartMaskAuto,
]

# Node id -> class and display name, both read from each node's schema. ComfyUI (0.3.75's
# load_custom_node) takes V3 classes from NODE_CLASS_MAPPINGS as it does V1 ones, and its
# /object_info shows their schema's display name.
_SCHEMAS = [(node, node.GET_SCHEMA()) for node in NODES]
NODE_CLASS_MAPPINGS = {schema.node_id: node for node, schema in _SCHEMAS}
NODE_DISPLAY_NAME_MAPPINGS = {schema.node_id: schema.display_name for _, schema in _SCHEMAS}
