// Smart Mask front end: previews drawn on the nodes after they ran.
//
// The Python nodes (nodes/_ui.py) save small PNGs into ComfyUI's temp folder and send their
// references in the node's "ui" output under "smartmask_preview" (plus the usual "text").
// This extension adds one canvas-drawn widget to the node that shows them:
//
//   * compare  - the original on the left of a slider, the result on the right; drag across
//                the picture to move the slider;
//   * heat-map - the difference heat-map;
//   * mask     - the mask, white = taken from the edit;
//   * faces    - the original with the protected faces tinted;
//   * "overlay" toggles the mask tinted over the picture;
//   * with a batch, arrows pick the frame;
//   * the node's text (chosen threshold, faces protected, ...) is printed above the picture.
//
// Loaded by ComfyUI through WEB_DIRECTORY = "./js" in the pack's __init__.py.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const EXTENSION = "SmartMask.Preview";
const PREVIEW_KEY = "smartmask_preview";
const WIDGET_NAME = "smartmask_preview";
const NODE_TYPES = new Set(["SmartMaskComposite", "SmartMaskAuto", "SmartMaskDifference", "SmartMaskFaceGuard"]);

const VIEW_LABELS = { compare: "compare", heatmap: "heat-map", mask: "mask", faces: "faces" };
const MASK_TINT = [255, 0, 200]; // magenta: stands out on skin, cloth and sky alike (tests/test_frontend.py)
const FACE_TINT = [40, 160, 255];
const OVERLAY_ALPHA = 0.55;

const MARGIN = 10;
const BUTTON_H = 20;
const GAP = 4;
const LINE_H = 15;
const FONT = "12px Arial, sans-serif";
const SMALL_FONT = "11px Arial, sans-serif";
const MIN_IMAGE_H = 120;

function viewUrl(ref) {
    const params = new URLSearchParams({
        filename: ref.filename,
        subfolder: ref.subfolder ?? "",
        type: ref.type ?? "temp",
    });
    return api.apiURL(`/view?${params}`);
}

function inRect(r, x, y) {
    return !!r && x >= r.x && x <= r.x + r.w && y >= r.y && y <= r.y + r.h;
}

// Words wrapped into lines no wider than `width` (long words are cut at the edge).
function wrapText(ctx, text, width) {
    const out = [];
    for (const para of String(text).split("\n")) {
        let line = "";
        for (const word of para.split(/\s+/).filter(Boolean)) {
            const trial = line ? `${line} ${word}` : word;
            if (!line || ctx.measureText(trial).width <= width) {
                line = trial;
            } else {
                out.push(line);
                line = word;
            }
        }
        out.push(line);
    }
    return out;
}

let measureCtx = null;
function measureContext() {
    if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
    return measureCtx;
}

// A grey mask PNG turned into a tinted, transparent layer: alpha = mask value.
function tintMask(img, rgb) {
    const c = document.createElement("canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, c.width, c.height);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
        const a = px[i];
        px[i] = rgb[0];
        px[i + 1] = rgb[1];
        px[i + 2] = rgb[2];
        px[i + 3] = a;
    }
    ctx.putImageData(data, 0, 0);
    return c;
}

class PreviewState {
    constructor(node) {
        this.node = node;
        this.payload = null;
        this.text = "";
        this.view = null;
        this.frame = 0; // index into payload.frames
        this.overlay = false;
        this.slider = 0.5; // fraction of the picture's width: original left of it, result right
        this.dragging = false;
        this.images = new Map(); // url -> {img, loaded, failed, tints}
        this.layout = { buttons: [], image: null, header: 0 };
    }

    get frames() {
        return this.payload?.frames ?? [];
    }

    get currentFrame() {
        return this.frames[Math.min(this.frame, this.frames.length - 1)] ?? null;
    }

    get views() {
        const f = this.frames[0];
        if (!f) return [];
        const v = [];
        if (f.original && f.result) v.push("compare");
        if (f.heatmap) v.push("heatmap");
        if (f.faces && f.original) v.push("faces");
        if (f.mask) v.push("mask");
        return v;
    }

    setData(output) {
        const payload = output?.[PREVIEW_KEY]?.[0] ?? null;
        const text = Array.isArray(output?.text) ? output.text.join("\n") : "";
        this.payload = payload;
        this.text = text;
        this.images = new Map();
        const views = this.views;
        if (!views.includes(this.view)) this.view = views[0] ?? null;
        if (this.frame >= this.frames.length) this.frame = 0;
        this.dragging = false;
        this.preload();
    }

    redraw() {
        this.node.setDirtyCanvas?.(true, false);
        app.canvas?.setDirty?.(true, false);
    }

    entry(ref) {
        if (!ref) return null;
        const url = viewUrl(ref);
        let e = this.images.get(url);
        if (!e) {
            const img = new Image();
            e = { img, loaded: false, failed: false, tints: new Map() };
            img.onload = () => {
                e.loaded = true;
                this.redraw();
            };
            img.onerror = () => {
                e.failed = true;
                console.warn(`[Smart Mask] could not load the preview ${url}`);
                this.redraw();
            };
            img.src = url;
            this.images.set(url, e);
        }
        return e;
    }

    tinted(ref, rgb) {
        const e = this.entry(ref);
        if (!e?.loaded) return null;
        const key = rgb.join(",");
        if (!e.tints.has(key)) e.tints.set(key, tintMask(e.img, rgb));
        return e.tints.get(key);
    }

    // Start loading every layer of the current frame (and of the next one, for the arrows).
    preload() {
        for (const i of [this.frame, this.frame + 1]) {
            const f = this.frames[i];
            if (!f) continue;
            for (const k of ["original", "result", "heatmap", "mask", "faces"]) if (f[k]) this.entry(f[k]);
        }
    }

    // The layers the current view draws.
    neededLayers() {
        const f = this.currentFrame;
        if (!f) return [];
        const need = { compare: ["original", "result"], heatmap: ["heatmap"], mask: ["mask"], faces: ["original", "faces"] }[this.view] ?? [];
        if (this.overlay && f.mask && this.view !== "mask") need.push("mask");
        return need.map((k) => f[k]).filter(Boolean);
    }

    // True once every picture the current view needs has loaded (used by the tests too).
    isReady() {
        const refs = this.neededLayers();
        return refs.length > 0 && refs.every((r) => this.entry(r)?.loaded);
    }

    textLines() {
        if (!this.text) return [];
        const index = this.currentFrame?.index ?? 0;
        const lines = [];
        for (const line of this.text.split("\n")) {
            const m = /^frame (\d+):\s*(.*)$/.exec(line);
            if (!m) lines.push(line);
            else if (Number(m[1]) === index) lines.push(m[2]);
        }
        return lines;
    }

    setFrame(i) {
        const n = this.frames.length;
        if (!n) return;
        this.frame = ((i % n) + n) % n;
        this.preload();
    }

    setSliderFromX(x) {
        const r = this.layout.image;
        if (!r || r.w <= 0) return;
        this.slider = Math.min(1, Math.max(0, (x - r.x) / r.w));
    }

    buttonsSpec() {
        const specs = [];
        const views = this.views;
        if (views.length > 1) {
            for (const v of views) {
                specs.push({ id: `view:${v}`, label: VIEW_LABELS[v], active: this.view === v, action: () => { this.view = v; } });
            }
        }
        const f = this.currentFrame;
        if (f?.mask && this.view !== "mask") {
            specs.push({ id: "overlay", label: `${this.overlay ? "\u2611" : "\u2610"} overlay`, active: this.overlay,
                action: () => { this.overlay = !this.overlay; } });
        }
        if (this.frames.length > 1) {
            const batch = this.payload.batch ?? this.frames.length;
            specs.push({ id: "prev", label: "\u25C0", action: () => this.setFrame(this.frame - 1) });
            specs.push({ id: "frame", label: `frame ${(f?.index ?? 0) + 1}/${batch}`, passive: true });
            specs.push({ id: "next", label: "\u25B6", action: () => this.setFrame(this.frame + 1) });
        }
        return specs;
    }

    // Height of the toolbar and text for a widget `width` wide (without drawing).
    headerHeight(ctx, width) {
        ctx.save();
        ctx.font = SMALL_FONT;
        const rows = this.layoutButtons(ctx, 0, width).rows;
        ctx.font = FONT;
        const lines = this.textLines().flatMap((l) => wrapText(ctx, l, width - 2 * MARGIN)).length;
        ctx.restore();
        return GAP + rows * (BUTTON_H + GAP) + lines * LINE_H + (lines ? GAP : 0);
    }

    layoutButtons(ctx, y0, width) {
        const out = [];
        let x = MARGIN;
        let y = y0 + GAP;
        let rows = 0;
        for (const s of this.buttonsSpec()) {
            const w = Math.ceil(ctx.measureText(s.label).width) + 14;
            if (rows === 0) rows = 1;
            if (x > MARGIN && x + w > width - MARGIN) {
                x = MARGIN;
                y += BUTTON_H + GAP;
                rows += 1;
            }
            out.push({ ...s, x, y, w, h: BUTTON_H });
            x += w + GAP;
        }
        return { buttons: out, rows };
    }

    minHeight(width) {
        const header = this.headerHeight(measureContext(), width);
        return header + (this.payload ? MIN_IMAGE_H : 0);
    }

    // ------------------------------------------------------------------ drawing
    draw(ctx, node, width, y, height) {
        ctx.save();
        ctx.font = SMALL_FONT;
        ctx.textBaseline = "middle";
        const { buttons } = this.layoutButtons(ctx, y, width);
        this.layout.buttons = buttons;
        let cy = y + GAP;
        for (const b of buttons) {
            ctx.beginPath();
            ctx.roundRect(b.x, b.y, b.w, b.h, 4);
            ctx.fillStyle = b.active ? "#2f6aa8" : (b.passive ? "#00000000" : (LiteGraph.WIDGET_BGCOLOR ?? "#222"));
            ctx.fill();
            if (!b.passive) {
                ctx.strokeStyle = LiteGraph.WIDGET_OUTLINE_COLOR ?? "#666";
                ctx.stroke();
            }
            ctx.fillStyle = LiteGraph.WIDGET_TEXT_COLOR ?? "#ddd";
            ctx.textAlign = "center";
            ctx.fillText(b.label, b.x + b.w / 2, b.y + b.h / 2 + 1);
            cy = Math.max(cy, b.y + b.h + GAP);
        }
        ctx.font = FONT;
        ctx.textAlign = "left";
        ctx.fillStyle = LiteGraph.WIDGET_TEXT_COLOR ?? "#ddd";
        const lines = this.textLines().flatMap((l) => wrapText(ctx, l, width - 2 * MARGIN));
        for (const line of lines) {
            ctx.fillText(line, MARGIN, cy + LINE_H / 2);
            cy += LINE_H;
        }
        if (lines.length) cy += GAP;
        this.layout.header = cy - y;

        const area = { x: MARGIN, y: cy, w: width - 2 * MARGIN, h: y + height - cy - GAP };
        this.layout.image = null;
        if (this.payload && area.h > 8 && area.w > 8) this.drawPicture(ctx, area);
        ctx.restore();
    }

    drawPicture(ctx, area) {
        const f = this.currentFrame;
        const pw = this.payload.width || 1;
        const ph = this.payload.height || 1;
        const s = Math.min(area.w / pw, area.h / ph);
        const r = { x: area.x + (area.w - pw * s) / 2, y: area.y + (area.h - ph * s) / 2, w: pw * s, h: ph * s };
        this.layout.image = r;
        ctx.fillStyle = "#111";
        ctx.fillRect(r.x, r.y, r.w, r.h);
        if (!this.isReady()) {
            ctx.fillStyle = "#888";
            ctx.textAlign = "center";
            ctx.fillText(this.neededLayers().some((x) => this.entry(x)?.failed) ? "preview unavailable" : "loading\u2026",
                r.x + r.w / 2, r.y + r.h / 2);
            return;
        }
        const img = (k) => this.entry(f[k]).img;
        const overlay = () => {
            if (this.overlay && f.mask) {
                const t = this.tinted(f.mask, MASK_TINT);
                if (t) {
                    ctx.globalAlpha = OVERLAY_ALPHA;
                    ctx.drawImage(t, r.x, r.y, r.w, r.h);
                    ctx.globalAlpha = 1;
                }
            }
        };
        if (this.view === "compare") {
            const sx = r.x + this.slider * r.w;
            ctx.save();
            ctx.beginPath();
            ctx.rect(r.x, r.y, sx - r.x, r.h);
            ctx.clip();
            ctx.drawImage(img("original"), r.x, r.y, r.w, r.h);
            overlay();
            ctx.restore();
            ctx.save();
            ctx.beginPath();
            ctx.rect(sx, r.y, r.x + r.w - sx, r.h);
            ctx.clip();
            ctx.drawImage(img("result"), r.x, r.y, r.w, r.h);
            overlay();
            ctx.restore();
            // the slider: a line with a round handle in the middle
            ctx.fillStyle = "#fff";
            ctx.fillRect(sx - 1, r.y, 2, r.h);
            ctx.beginPath();
            ctx.arc(sx, r.y + r.h / 2, 8, 0, Math.PI * 2);
            ctx.fill();
            ctx.strokeStyle = "#333";
            ctx.lineWidth = 1.5;
            ctx.beginPath();
            ctx.moveTo(sx - 3, r.y + r.h / 2 - 4);
            ctx.lineTo(sx - 6, r.y + r.h / 2);
            ctx.lineTo(sx - 3, r.y + r.h / 2 + 4);
            ctx.moveTo(sx + 3, r.y + r.h / 2 - 4);
            ctx.lineTo(sx + 6, r.y + r.h / 2);
            ctx.lineTo(sx + 3, r.y + r.h / 2 + 4);
            ctx.stroke();
            const labels = this.payload.labels ?? {};
            this.drawTag(ctx, labels.original ?? "original", r.x + 4, r.y + 4, "left");
            this.drawTag(ctx, labels.result ?? "result", r.x + r.w - 4, r.y + 4, "right");
        } else if (this.view === "heatmap") {
            ctx.drawImage(img("heatmap"), r.x, r.y, r.w, r.h);
            overlay();
        } else if (this.view === "mask") {
            ctx.drawImage(img("mask"), r.x, r.y, r.w, r.h);
        } else if (this.view === "faces") {
            ctx.drawImage(img("original"), r.x, r.y, r.w, r.h);
            overlay();
            const t = this.tinted(f.faces, FACE_TINT);
            if (t) {
                ctx.globalAlpha = OVERLAY_ALPHA;
                ctx.drawImage(t, r.x, r.y, r.w, r.h);
                ctx.globalAlpha = 1;
            }
        }
    }

    drawTag(ctx, text, x, y, align) {
        ctx.font = SMALL_FONT;
        const w = ctx.measureText(text).width + 8;
        const x0 = align === "right" ? x - w : x;
        ctx.fillStyle = "rgba(0,0,0,0.55)";
        ctx.fillRect(x0, y, w, 16);
        ctx.fillStyle = "#fff";
        ctx.textAlign = "left";
        ctx.textBaseline = "middle";
        ctx.fillText(text, x0 + 4, y + 8);
    }

    // ------------------------------------------------------------------ pointer
    // LiteGraph calls this on pointerdown over the widget, then for every pointermove until
    // the button is released, and once more with the pointerup event.
    mouse(event, pos) {
        const [x, y] = pos;
        const type = event.type;
        if (type === "pointerdown" || type === "mousedown") {
            const b = this.layout.buttons.find((btn) => !btn.passive && inRect(btn, x, y));
            if (b) {
                b.action();
                this.redraw();
                return true;
            }
            if (this.view === "compare" && inRect(this.layout.image, x, y)) {
                this.dragging = true;
                this.setSliderFromX(x);
                this.redraw();
                return true;
            }
            return false;
        }
        if ((type === "pointermove" || type === "mousemove") && this.dragging) {
            this.setSliderFromX(x);
            this.redraw();
            return true;
        }
        if ((type === "pointerup" || type === "mouseup") && this.dragging) {
            this.setSliderFromX(x);
            this.dragging = false;
            this.redraw();
            return true;
        }
        return false;
    }
}

function previewWidget(node) {
    let widget = node.widgets?.find((w) => w.name === WIDGET_NAME);
    if (widget) return widget;
    const state = new PreviewState(node);
    widget = {
        name: WIDGET_NAME,
        type: "smartmask.preview",
        value: "",
        serialize: false, // never part of widgets_values: the node's inputs keep their slots
        options: { serialize: false },
        y: 0,
        smartmask: state, // for other scripts and the tests
        computeLayoutSize(n) {
            return { minHeight: state.minHeight(n?.size?.[0] ?? 320), minWidth: 220 };
        },
        draw(ctx, n, width, y) {
            const h = widget.computedHeight ?? state.minHeight(width);
            state.draw(ctx, n, width, y, h);
        },
        mouse(event, pos) {
            return state.mouse(event, pos);
        },
    };
    node.addCustomWidget(widget);
    return widget;
}

// Grow the node so the picture has room (never shrink what the user sized).
function fitNode(node, widget) {
    const state = widget.smartmask;
    const width = Math.max(node.size[0], 320);
    let extra = state.headerHeight(measureContext(), width);
    if (state.payload) {
        const aspect = (state.payload.height || 1) / (state.payload.width || 1);
        extra += Math.min(Math.max((width - 2 * MARGIN) * aspect, MIN_IMAGE_H), 640) + GAP;
    }
    // computeSize() counts the widget at its minimum height (+4 px of spacing): swap that for `extra`.
    const base = node.computeSize([width, node.size[1]])[1] - (state.minHeight(width) + 4);
    const height = Math.max(node.size[1], base + extra + 4);
    if (width !== node.size[0] || height !== node.size[1]) node.setSize([width, height]);
}

app.registerExtension({
    name: EXTENSION,
    async beforeRegisterNodeDef(nodeType, nodeData) {
        if (!NODE_TYPES.has(nodeData?.name)) return;
        const onExecuted = nodeType.prototype.onExecuted;
        nodeType.prototype.onExecuted = function (output) {
            const r = onExecuted?.apply(this, arguments);
            const hasPreview = !!output?.[PREVIEW_KEY]?.length;
            const hasText = Array.isArray(output?.text) && output.text.length > 0;
            if (hasPreview || hasText) {
                const widget = previewWidget(this);
                widget.smartmask.setData(output);
                fitNode(this, widget);
                widget.smartmask.redraw();
            }
            return r;
        };
    },
});
