"""Convert a ComfyUI UI-format workflow (what the editor saves, and what ``example_workflows/``
holds) into the API prompt format that ``POST /prompt`` takes.

UI format::

    {"nodes": [{"id": 3, "type": "KSampler", "mode": 0,
                "inputs": [{"name": "model", "type": "MODEL", "link": 7}, ...],
                "widgets_values": [42, "randomize", 20, 8.0, "euler", "normal", 1.0]}, ...],
     "links": [[7, 1, 0, 3, 0, "MODEL"], ...]}   # id, from node, from slot, to node, to slot, type

API format::

    {"3": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 42, ...}}, ...}

``widgets_values`` is a flat list with no names; ``/object_info`` gives the order: a node's
required inputs, then its optional ones, each that is a widget (INT, FLOAT, STRING, BOOLEAN,
COMBO or a list of choices, and not ``forceInput``) taking one value. The editor adds values of
its own that the server never sees, and these are skipped:

* a "control after generate" value ("fixed", "randomize", ...) right after an input named
  ``seed`` or ``noise_seed`` of type INT, or any input whose options say ``control_after_generate``;
* the value of the upload button of an input with ``image_upload`` (LoadImage's ``"image"``;
  likewise ``video_upload`` and the like), which the editor adds after the required inputs.

A widget input that was turned into a socket and linked keeps its slot in ``widgets_values``;
the link wins. Editor-only nodes are resolved: ``Note``/``MarkdownNote`` are dropped,
``Reroute`` links are followed, a ``PrimitiveNode``'s value is written into the inputs it feeds,
muted nodes (mode 2) are dropped and bypassed nodes (mode 4) pass their input of the same type
through. Subgraphs are not supported.
"""

from __future__ import annotations

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
NOTE_TYPES = {"Note", "MarkdownNote"}
MODE_MUTED, MODE_BYPASS = 2, 4


class WorkflowError(ValueError):
    pass


def _is_widget(spec) -> bool:
    kind = spec[0]
    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    return (isinstance(kind, list) or kind in WIDGET_TYPES) and not opts.get("forceInput")


def widget_slots(node_info: dict) -> list[str | None]:
    """Names for each entry of ``widgets_values`` of a node type; None for editor-only values."""
    slots: list[str | None] = []
    uploads = 0
    for section in ("required", "optional"):
        for name, spec in node_info.get("input", {}).get(section, {}).items():
            if not _is_widget(spec):
                continue
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            slots.append(name)
            if opts.get("control_after_generate") or (spec[0] == "INT" and name in ("seed", "noise_seed")):
                slots.append(None)
            if any(key.endswith("_upload") and flag for key, flag in opts.items()):
                uploads += 1
        if section == "required":
            slots.extend([None] * uploads)
    return slots


def ui_to_api(workflow: dict, object_info: dict) -> dict:
    """The API prompt for a UI workflow; raises ``WorkflowError`` on anything it cannot map."""
    if workflow.get("definitions", {}).get("subgraphs"):
        raise WorkflowError("workflows with subgraphs are not supported")
    nodes = {n["id"]: n for n in workflow["nodes"]}
    links = {link[0]: link for link in workflow.get("links", [])}

    def source(link_id):
        """(node, slot) that really feeds ``link_id``, through reroutes and bypassed nodes; or None."""
        link = links.get(link_id)
        while link is not None:
            node, slot = nodes[link[1]], link[2]
            if node["type"] == "Reroute":
                link = links.get(node["inputs"][0].get("link"))
            elif node.get("mode") == MODE_BYPASS:
                out_type = node["outputs"][slot]["type"]
                same = [i for i in node.get("inputs", []) if i.get("type") == out_type and i.get("link") is not None]
                link = links.get(same[0]["link"]) if same else None
            elif node.get("mode") == MODE_MUTED:
                return None
            else:
                return node, slot
        return None

    prompt = {}
    for node in workflow["nodes"]:
        kind = node["type"]
        if kind in NOTE_TYPES or kind in ("Reroute", "PrimitiveNode") or node.get("mode") in (MODE_MUTED, MODE_BYPASS):
            continue
        if kind not in object_info:
            raise WorkflowError(f"node {node['id']}: type {kind!r} is not known to this ComfyUI")
        inputs = {}
        values = node.get("widgets_values") or []
        if isinstance(values, dict):  # some nodes save their widgets by name
            inputs.update(values)
        else:
            slots = widget_slots(object_info[kind])
            if len(values) != len(slots):
                raise WorkflowError(
                    f"node {node['id']} ({kind}): {len(values)} widget values {values!r} "
                    f"but its widgets are {slots!r} (None: editor-only value)"
                )
            inputs.update({name: v for name, v in zip(slots, values) if name is not None})
        for inp in node.get("inputs", []):
            if inp.get("link") is None:
                continue
            src = source(inp["link"])
            if src is None:
                inputs.pop(inp["name"], None)
            elif src[0]["type"] == "PrimitiveNode":
                inputs[inp["name"]] = src[0]["widgets_values"][0]
            else:
                inputs[inp["name"]] = [str(src[0]["id"]), src[1]]
        prompt[str(node["id"])] = {
            "class_type": kind,
            "inputs": inputs,
            "_meta": {"title": node.get("title") or kind},
        }
    return prompt


def node_types(workflow: dict) -> set[str]:
    """Every node type a UI workflow uses that the server must know (editor-only ones left out)."""
    return {n["type"] for n in workflow["nodes"]} - NOTE_TYPES - {"Reroute", "PrimitiveNode"}
