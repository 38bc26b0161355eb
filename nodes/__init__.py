"""ComfyUI node classes. They only translate between ComfyUI and the ``smartmask`` core."""

from ._comfy import install_interrupt_check
from .composite import SmartMaskComposite
from .difference_mask import SmartMaskDifference
from .face_guard import SmartMaskFaceGuard
from .feather import SmartMaskFeather
from .mask_preview import SmartMaskPreview
from .smart_mask import SmartMaskAuto

install_interrupt_check()

NODE_CLASS_MAPPINGS = {
    "SmartMaskDifference": SmartMaskDifference,
    "SmartMaskFaceGuard": SmartMaskFaceGuard,
    "SmartMaskFeather": SmartMaskFeather,
    "SmartMaskComposite": SmartMaskComposite,
    "SmartMaskPreview": SmartMaskPreview,
    "SmartMaskAuto": SmartMaskAuto,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "SmartMaskDifference": "Difference Mask (Smart Mask)",
    "SmartMaskFaceGuard": "Face Guard (Smart Mask)",
    "SmartMaskFeather": "Feather Mask (Smart Mask)",
    "SmartMaskComposite": "Composite (Smart Mask)",
    "SmartMaskPreview": "Mask Preview (Smart Mask)",
    "SmartMaskAuto": "Smart Mask (auto)",
}
