// Smart Mask front end: previews drawn on the nodes after they ran.
//
// The Python nodes (nodes/_frontend_previews.py) save small PNGs into ComfyUI's temp folder and send their
// references in the node's "ui" output under "smartmask_preview" (plus the usual "text").
// This extension adds one canvas-drawn widget to the node that shows them:
//
//   * compare  - the original on the left of a slider, the result on the right; drag across
//                the picture to move the slider;
//   * heat-map - the difference heat-map;
//   * mask     - the mask, white = taken from the edit;
//   * faces    - the original with the protected faces tinted;
//   * "overlay" toggles the mask tinted over the picture, in a colour that contrasts with
//     what lies under the mask (the complement of its mean hue);
//   * with a batch, arrows pick the frame;
//   * the node's text (chosen threshold, face detector and why, ...) is wrapped above the picture.
//
// The node keeps its last preview in its properties, so the preview survives a page reload and
// a re-run that ComfyUI serves from its cache (which sends nothing for cached nodes that are not
// output nodes). Which nodes get the widget is read from what the server sends: the nodes of the
// pack's category whose output carries the preview key.
//
// The code is in four parts: the state (what is shown), the layout (where things go), the
// drawing (one function per view) and the input (pointer events).
//
// Loaded by ComfyUI through WEB_DIRECTORY = "./js" in the pack's __init__.py.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const EXTENSION = "SmartMask.Preview";
const PREVIEW_KEY = "smartmask_preview"; // the key of the nodes' ui output (nodes/_frontend_previews.py PREVIEW_KEY)
const WIDGET_NAME = "smartmask_preview";
const PROPERTY = "smartmask_last_output"; // node property holding the last output, for reloads
const CATEGORY = "Smart Mask"; // the nodes' category, as the server sends it

const FACE_TINT = [40, 160, 255];
const FALLBACK_TINT = [255, 0, 200];
const OVERLAY_ALPHA = 0.55;

const MARGIN = 10;
const BUTTON_H = 20;
const GAP = 4;
const LINE_H = 15;
const FONT = "12px Arial, sans-serif";
const SMALL_FONT = "11px Arial, sans-serif";
const MIN_IMAGE_H = 120;
const MAX_IMAGE_H = 640;

// The views: which layers of a frame each one needs, its label, and how it is drawn.
const VIEWS = {
    compare: { label: "compare", layers: ["original", "result"], draw: drawCompare },
    heatmap: { label: "heat-map", layers: ["heatmap"], draw: drawHeatmap },
    faces: { label: "faces", layers: ["original", "faces"], draw: drawFaces },
    mask: { label: "mask", layers: ["mask"], draw: drawMask },
};

// ================================================================================ helpers
function viewUrl(ref) {
    const params = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder ?? "", type: ref.type ?? "temp" });
    return api.apiURL(`/view?${params}`);
}

function inRect(r, x, y) {
    return !!r && x >= r.x && x <= r.x + r.w && y >= r.y && y <= r.y + r.h;
}

// A word wider than `width` (a model path, a URL) broken into pieces that fit, after a "/" where
// one lies in the piece's second half.
function breakWord(ctx, word, width) {
    const pieces = [];
    let piece = "";
    for (const ch of word) {
        if (piece && ctx.measureText(piece + ch).width > width) {
            const slash = piece.lastIndexOf("/") + 1;
            const cut = slash > piece.length / 2 ? slash : piece.length;
            pieces.push(piece.slice(0, cut));
            piece = piece.slice(cut);
        }
        piece += ch;
    }
    if (piece) pieces.push(piece);
    return pieces;
}

// Text wrapped into lines no wider than `width`; nothing is cut at the node's edge.
function wrapText(ctx, text, width) {
    const out = [];
    for (const para of String(text).split("\n")) {
        let line = "";
        for (const word of para.split(/\s+/).filter(Boolean)) {
            const trial = line ? `${line} ${word}` : word;
            if (ctx.measureText(trial).width <= width) {
                line = trial;
                continue;
            }
            if (line) out.push(line);
            const pieces = breakWord(ctx, word, width);
            out.push(...pieces.slice(0, -1));
            line = pieces[pieces.length - 1] ?? "";
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

function pixelsOf(img, w, h) {
    const c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    const ctx = c.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(img, 0, 0, w, h);
    return { canvas: c, ctx, data: ctx.getImageData(0, 0, w, h) };
}

// The one tint helper: a grey mask picture turned into a layer of colour `rgb`, alpha = mask value.
function tintLayer(maskImg, rgb) {
    const { canvas, ctx, data } = pixelsOf(maskImg, maskImg.naturalWidth, maskImg.naturalHeight);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
        px[i + 3] = px[i];
        px[i] = rgb[0];
        px[i + 1] = rgb[1];
        px[i + 2] = rgb[2];
    }
    ctx.putImageData(data, 0, 0);
    return canvas;
}

// A tint that stands out on what lies under the mask: the complement of the mean hue there
// (weighted by saturation, so grey areas count little), fully saturated. A red or orange
// subject gets a cyan-blue tint, a green one magenta. Grey areas get the fallback magenta.
function contrastingTint(pictureImg, maskImg) {
    const n = 64;
    const pic = pixelsOf(pictureImg, n, n).data.data;
    const mask = pixelsOf(maskImg, n, n).data.data;
    let sx = 0;
    let sy = 0;
    let weight = 0;
    for (let i = 0; i < pic.length; i += 4) {
        const m = mask[i] / 255;
        if (m < 0.5) continue;
        const [r, g, b] = [pic[i] / 255, pic[i + 1] / 255, pic[i + 2] / 255];
        const max = Math.max(r, g, b);
        const min = Math.min(r, g, b);
        const chroma = max - min;
        weight += m;
        if (chroma < 1e-6) continue;
        let h = max === r ? ((g - b) / chroma) % 6 : max === g ? (b - r) / chroma + 2 : (r - g) / chroma + 4;
        h *= Math.PI / 3;
        sx += m * chroma * Math.cos(h);
        sy += m * chroma * Math.sin(h);
    }
    if (weight === 0 || Math.hypot(sx, sy) / weight < 0.05) return FALLBACK_TINT;
    const hue = (Math.atan2(sy, sx) + Math.PI) / (Math.PI / 3); // the complement, in sixths
    const x = 1 - Math.abs((hue % 2) - 1);
    const rgb = [[1, x, 0], [x, 1, 0], [0, 1, x], [0, x, 1], [x, 0, 1], [1, 0, x]][Math.floor(hue) % 6];
    return rgb.map((v) => Math.round(v * 255));
}

// ================================================================================ state
// What the node shows: the payload the server sent, the view, frame, slider and toggles.
class PreviewState {
    constructor() {
        this.payload = null;
        this.text = "";
        this.view = null;
        this.frame = 0; // index into payload.frames
        this.overlay = false;
        this.slider = 0.5; // fraction of the picture's width: original left of it, result right
        this.dragging = false;
    }

    get frames() {
        return this.payload?.frames ?? [];
    }

    get currentFrame() {
        return this.frames[Math.min(this.frame, this.frames.length - 1)] ?? null;
    }

    // The views the sent layers allow, in VIEWS order.
    get views() {
        const f = this.frames[0];
        return f ? Object.keys(VIEWS).filter((v) => VIEWS[v].layers.every((k) => f[k])) : [];
    }

    setData(output) {
        this.payload = output?.[PREVIEW_KEY]?.[0] ?? null;
        this.text = Array.isArray(output?.text) ? output.text.join("\n") : "";
        if (!this.views.includes(this.view)) this.view = this.views[0] ?? null;
        if (this.frame >= this.frames.length) this.frame = 0;
        this.dragging = false;
    }

    // The layer references the current view draws (the overlay adds the mask).
    neededLayers() {
        const f = this.currentFrame;
        if (!f || !VIEWS[this.view]) return [];
        const need = [...VIEWS[this.view].layers];
        if (this.overlay && f.mask && this.view !== "mask") need.push("mask");
        return need.map((k) => f[k]).filter(Boolean);
    }

    // Every layer reference of frame `i` (what the server sent, whatever its names).
    layersOf(i) {
        const f = this.frames[i];
        return f ? Object.values(f).filter((v) => v && typeof v === "object" && v.filename) : [];
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
        if (n) this.frame = ((i % n) + n) % n;
    }

    buttons() {
        const specs = [];
        const views = this.views;
        if (views.length > 1) {
            for (const v of views) {
                specs.push({ id: `view:${v}`, label: VIEWS[v].label, active: this.view === v, action: () => { this.view = v; } });
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
}

// The pictures behind the layer references, loaded once each, with their tinted copies.
class PictureCache {
    constructor(onChange) {
        this.onChange = onChange;
        this.entries = new Map(); // url -> {img, loaded, failed, tints}
    }

    clear() {
        this.entries = new Map();
    }

    entry(ref) {
        if (!ref) return null;
        const url = viewUrl(ref);
        let e = this.entries.get(url);
        if (!e) {
            const img = new Image();
            e = { img, loaded: false, failed: false, tints: new Map() };
            img.onload = () => { e.loaded = true; this.onChange(); };
            img.onerror = () => {
                e.failed = true;
                console.warn(`[Smart Mask] could not load the preview ${url} (ComfyUI empties its temp folder on restart: run again)`);
                this.onChange();
            };
            img.src = url;
            this.entries.set(url, e);
        }
        return e;
    }

    loaded(ref) {
        return !!this.entry(ref)?.loaded;
    }

    // `make(img)` -> canvas, cached per picture under `key`.
    derived(ref, key, make) {
        const e = this.entry(ref);
        if (!e?.loaded) return null;
        if (!e.tints.has(key)) e.tints.set(key, make(e.img));
        return e.tints.get(key);
    }

    tinted(ref, rgb) {
        return this.derived(ref, rgb.join(","), (img) => tintLayer(img, rgb));
    }
}

// ================================================================================ layout
function layoutButtons(ctx, specs, y0, width) {
    const out = [];
    let x = MARGIN;
    let y = y0 + GAP;
    let rows = 0;
    for (const s of specs) {
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

function wrappedLines(ctx, state, width) {
    ctx.font = FONT;
    return state.textLines().flatMap((l) => wrapText(ctx, l, width - 2 * MARGIN));
}

// Height of the toolbar and text for a widget `width` wide (without drawing).
function headerHeight(state, width) {
    const ctx = measureContext();
    ctx.save();
    ctx.font = SMALL_FONT;
    const rows = layoutButtons(ctx, state.buttons(), 0, width).rows;
    const lines = wrappedLines(ctx, state, width).length;
    ctx.restore();
    return GAP + rows * (BUTTON_H + GAP) + lines * LINE_H + (lines ? GAP : 0);
}

function minHeight(state, width) {
    return headerHeight(state, width) + (state.payload ? MIN_IMAGE_H : 0);
}

// The picture's height for a widget `width` wide: its aspect ratio, within limits.
function pictureHeight(state, width) {
    const aspect = (state.payload?.height || 1) / (state.payload?.width || 1);
    return Math.min(Math.max((width - 2 * MARGIN) * aspect, MIN_IMAGE_H), MAX_IMAGE_H);
}

// The picture fitted into `area`, centred, at its aspect ratio.
function pictureRect(payload, area) {
    const pw = payload.width || 1;
    const ph = payload.height || 1;
    const s = Math.min(area.w / pw, area.h / ph);
    return { x: area.x + (area.w - pw * s) / 2, y: area.y + (area.h - ph * s) / 2, w: pw * s, h: ph * s };
}

// ================================================================================ drawing
function drawButtons(ctx, buttons) {
    ctx.font = SMALL_FONT;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
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
        ctx.fillText(b.label, b.x + b.w / 2, b.y + b.h / 2 + 1);
    }
}

function drawLines(ctx, lines, y) {
    ctx.font = FONT;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillStyle = LiteGraph.WIDGET_TEXT_COLOR ?? "#ddd";
    for (const line of lines) {
        ctx.fillText(line, MARGIN, y + LINE_H / 2);
        y += LINE_H;
    }
    return y;
}

function drawTag(ctx, text, x, y, align) {
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

function drawLayer(ctx, layer, r, alpha = 1) {
    if (!layer) return;
    ctx.globalAlpha = alpha;
    ctx.drawImage(layer, r.x, r.y, r.w, r.h);
    ctx.globalAlpha = 1;
}

// The mask, tinted, over whatever is drawn in `r` (when the overlay is on).
function drawOverlay(ctx, p, r) {
    const f = p.state.currentFrame;
    if (p.state.overlay && f.mask) drawLayer(ctx, p.pictures.tinted(f.mask, p.maskTint()), r, OVERLAY_ALPHA);
}

function drawCompare(ctx, p, r) {
    const f = p.state.currentFrame;
    const sx = r.x + p.state.slider * r.w;
    for (const [layer, x0, x1] of [["original", r.x, sx], ["result", sx, r.x + r.w]]) {
        ctx.save();
        ctx.beginPath();
        ctx.rect(x0, r.y, x1 - x0, r.h);
        ctx.clip();
        drawLayer(ctx, p.pictures.entry(f[layer]).img, r);
        drawOverlay(ctx, p, r);
        ctx.restore();
    }
    // the slider: a line with a round handle and two arrows in the middle
    const cy = r.y + r.h / 2;
    ctx.fillStyle = "#fff";
    ctx.fillRect(sx - 1, r.y, 2, r.h);
    ctx.beginPath();
    ctx.arc(sx, cy, 8, 0, Math.PI * 2);
    ctx.fill();
    ctx.strokeStyle = "#333";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    for (const d of [-1, 1]) {
        ctx.moveTo(sx + 3 * d, cy - 4);
        ctx.lineTo(sx + 6 * d, cy);
        ctx.lineTo(sx + 3 * d, cy + 4);
    }
    ctx.stroke();
    const labels = p.state.payload.labels ?? {};
    drawTag(ctx, labels.original ?? "original", r.x + 4, r.y + 4, "left");
    drawTag(ctx, labels.result ?? "result", r.x + r.w - 4, r.y + 4, "right");
}

function drawHeatmap(ctx, p, r) {
    drawLayer(ctx, p.pictures.entry(p.state.currentFrame.heatmap).img, r);
    drawOverlay(ctx, p, r);
}

function drawMask(ctx, p, r) {
    drawLayer(ctx, p.pictures.entry(p.state.currentFrame.mask).img, r);
}

function drawFaces(ctx, p, r) {
    const f = p.state.currentFrame;
    drawLayer(ctx, p.pictures.entry(f.original).img, r);
    drawOverlay(ctx, p, r);
    drawLayer(ctx, p.pictures.tinted(f.faces, FACE_TINT), r, OVERLAY_ALPHA);
}

function drawPicture(ctx, p, area) {
    const r = pictureRect(p.state.payload, area);
    p.layout.image = r;
    ctx.fillStyle = "#111";
    ctx.fillRect(r.x, r.y, r.w, r.h);
    if (!p.isReady()) {
        const failed = p.state.neededLayers().some((ref) => p.pictures.entry(ref)?.failed);
        ctx.fillStyle = "#888";
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillText(failed ? "preview gone (server restarted?): run again" : "loading\u2026", r.x + r.w / 2, r.y + r.h / 2);
        return;
    }
    VIEWS[p.state.view].draw(ctx, p, r);
}

function drawPreview(ctx, p, width, y, height) {
    ctx.save();
    ctx.font = SMALL_FONT;
    const { buttons } = layoutButtons(ctx, p.state.buttons(), y, width);
    p.layout.buttons = buttons;
    drawButtons(ctx, buttons);
    let cy = buttons.length ? Math.max(...buttons.map((b) => b.y + b.h)) + GAP : y + GAP;
    const lines = wrappedLines(ctx, p.state, width);
    cy = drawLines(ctx, lines, cy) + (lines.length ? GAP : 0);
    p.layout.header = cy - y;
    const area = { x: MARGIN, y: cy, w: width - 2 * MARGIN, h: y + height - cy - GAP };
    p.layout.image = null;
    if (p.state.payload && area.h > 8 && area.w > 8) drawPicture(ctx, p, area);
    ctx.restore();
}

// ================================================================================ input
// LiteGraph calls this on pointerdown over the widget, then for every pointermove until the
// button is released, and once more with the pointerup event.
function handlePointer(p, event, [x, y]) {
    const s = p.state;
    const type = event.type;
    const setSlider = () => {
        const r = p.layout.image;
        if (r && r.w > 0) s.slider = Math.min(1, Math.max(0, (x - r.x) / r.w));
    };
    if (type === "pointerdown" || type === "mousedown") {
        const b = p.layout.buttons.find((btn) => !btn.passive && inRect(btn, x, y));
        if (b) {
            b.action();
            p.preload();
            p.redraw();
            return true;
        }
        if (s.view === "compare" && inRect(p.layout.image, x, y)) {
            s.dragging = true;
            setSlider();
            p.redraw();
            return true;
        }
        return false;
    }
    if ((type === "pointermove" || type === "mousemove") && s.dragging) {
        setSlider();
        p.redraw();
        return true;
    }
    if ((type === "pointerup" || type === "mouseup") && s.dragging) {
        setSlider();
        s.dragging = false;
        p.redraw();
        return true;
    }
    return false;
}

// ================================================================================ the widget
// One node's preview: state, pictures and layout together (also what the tests read, as
// `widget.smartmask`).
class Preview {
    constructor(node) {
        this.node = node;
        this.state = new PreviewState();
        this.pictures = new PictureCache(() => this.redraw());
        this.layout = { buttons: [], image: null, header: 0 };
    }

    // What the tests and other scripts read.
    get payload() { return this.state.payload; }
    get text() { return this.state.text; }
    get view() { return this.state.view; }
    get views() { return this.state.views; }
    get frame() { return this.state.frame; }
    get frames() { return this.state.frames; }
    get overlay() { return this.state.overlay; }
    get slider() { return this.state.slider; }
    textLines() { return this.state.textLines(); }

    // The text as drawn on a node `width` wide: its lines and their widths (for the tests).
    wrapped(width) {
        const ctx = measureContext();
        ctx.save();
        const lines = wrappedLines(ctx, this.state, width);
        const widths = lines.map((l) => ctx.measureText(l).width);
        ctx.restore();
        return { lines, widths, room: width - 2 * MARGIN };
    }

    setData(output) {
        this.state.setData(output);
        this.pictures.clear();
        this.preload();
    }

    // The overlay colour for the current frame: contrasting with the original under the mask.
    maskTint() {
        const f = this.state.currentFrame;
        const under = f?.original ?? f?.heatmap;
        if (!f?.mask || !under || !this.pictures.loaded(under) || !this.pictures.loaded(f.mask)) return FALLBACK_TINT;
        const key = `${viewUrl(f.mask)}|tint`;
        if (!this._tints) this._tints = new Map();
        if (!this._tints.has(key)) {
            this._tints.set(key, contrastingTint(this.pictures.entry(under).img, this.pictures.entry(f.mask).img));
        }
        return this._tints.get(key);
    }

    get tint() { return this.maskTint(); }

    redraw() {
        this.node.setDirtyCanvas?.(true, false);
        app.canvas?.setDirty?.(true, false);
    }

    // Start loading every layer of the current frame and of the next one (for the arrows).
    preload() {
        const s = this.state;
        for (const i of [s.frame, s.frame + 1]) for (const ref of s.layersOf(i)) this.pictures.entry(ref);
    }

    // True once every picture the current view needs has loaded (the overlay's source too).
    isReady() {
        const refs = this.state.neededLayers();
        const f = this.state.currentFrame;
        if (this.state.overlay && f?.original) refs.push(f.original);
        return refs.length > 0 && refs.every((r) => this.pictures.loaded(r));
    }
}

function previewWidget(node) {
    let widget = node.widgets?.find((w) => w.name === WIDGET_NAME);
    if (widget) return widget;
    const preview = new Preview(node);
    widget = {
        name: WIDGET_NAME,
        type: "smartmask.preview",
        value: "",
        serialize: false, // never part of widgets_values: the node's inputs keep their slots
        options: { serialize: false },
        y: 0,
        smartmask: preview, // for other scripts and the tests
        computeLayoutSize(n) {
            return { minHeight: minHeight(preview.state, n?.size?.[0] ?? 320), minWidth: 220 };
        },
        draw(ctx, n, width, y) {
            drawPreview(ctx, preview, width, y, widget.computedHeight ?? minHeight(preview.state, width));
        },
        mouse(event, pos) {
            return handlePointer(preview, event, pos);
        },
    };
    node.addCustomWidget(widget);
    return widget;
}

// Grow the node so the picture has room (never shrink what the user sized).
function fitNode(node, widget) {
    const state = widget.smartmask.state;
    const width = Math.max(node.size[0], 320);
    let extra = headerHeight(state, width);
    if (state.payload) extra += pictureHeight(state, width) + GAP;
    // computeSize() counts the widget at its minimum height (+4 px of spacing): swap that for `extra`.
    const base = node.computeSize([width, node.size[1]])[1] - (minHeight(state, width) + 4);
    const height = Math.max(node.size[1], base + extra + 4);
    if (width !== node.size[0] || height !== node.size[1]) node.setSize([width, height]);
}

function hasPreview(output) {
    return !!output?.[PREVIEW_KEY]?.length || (Array.isArray(output?.text) && output.text.length > 0);
}

// Show `output` on the node and keep it in the node's properties (saved with the workflow).
// `fromRun`: it just arrived from the server (grow the node, and have the editor save it).
function showOutput(node, output, fromRun) {
    const widget = previewWidget(node);
    widget.smartmask.setData(output);
    node.properties ??= {};
    node.properties[PROPERTY] = { [PREVIEW_KEY]: output[PREVIEW_KEY] ?? [], text: output.text ?? [] };
    widget.smartmask.redraw();
    if (!fromRun) return;
    fitNode(node, widget);
    // Tell the editor the workflow changed, so the copy it keeps for a page reload has the preview.
    const tracker = app.extensionManager?.workflow?.activeWorkflow?.changeTracker;
    if (tracker?.checkState) tracker.checkState();
    else api.dispatchCustomEvent?.("graphChanged", app.graph?.serialize?.());
}

app.registerExtension({
    name: EXTENSION,
    async beforeRegisterNodeDef(nodeType, nodeData) {
        if (nodeData?.category !== CATEGORY) return;
        const onExecuted = nodeType.prototype.onExecuted;
        nodeType.prototype.onExecuted = function (output) {
            const r = onExecuted?.apply(this, arguments);
            if (hasPreview(output)) showOutput(this, output, true);
            return r;
        };
    },
    // A node loaded from a saved workflow (a page reload, an opened file) shows its last preview.
    loadedGraphNode(node) {
        const output = node.properties?.[PROPERTY];
        if (hasPreview(output) && !node.widgets?.some((w) => w.name === WIDGET_NAME)) showOutput(node, output, false);
    },
});
