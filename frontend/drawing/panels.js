// The three picture panels: partition, prediction and target with points.
// Server frames are decoded into reusable R×R ImageData buffers on offscreen canvases,
// then drawn scaled (nearest neighbour) onto the display canvases, once per
// animation frame and only for the latest frame received. Where the page draws the
// network itself, a painter (gpupanels.js) draws the first two panels instead, at
// their own device-pixel size, on the same schedule.

// Colours and fading are the server's (GET /api/options "drawing", shared/facts.js), so these
// panels are painted as output/render.py paints its pictures. A classifier's panels, as
// output/classmap.py draws them: region boundaries gray over the class map, the decision boundary
// black over both; the target faded under its labelled points.
import { facts } from "../shared/facts.js";

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function packRGBA(r, g, b) {
  return LITTLE_ENDIAN
    ? ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0
    : ((r << 24) | (g << 16) | (b << 8) | 255) >>> 0;
}

/** "#rrggbb" to [r, g, b]; null when it is not such a colour. */
function parseHex(color) {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(String(color));
  return m ? [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)] : null;
}

/** An offscreen R×R canvas with its ImageData, reused while R stays the same. */
class Layer {
  constructor() {
    this.size = 0;
    this.canvas = document.createElement("canvas");
    this.ctx = this.canvas.getContext("2d");
    this.image = null;
    this.words = null;
  }

  ensure(size) {
    if (size === this.size) return;
    this.size = size;
    this.canvas.width = size;
    this.canvas.height = size;
    this.image = this.ctx.createImageData(size, size);
    this.words = new Uint32Array(this.image.data.buffer);
  }

  commit() {
    this.ctx.putImageData(this.image, 0, 0);
  }
}

/** Grey (C = 1) or RGB (C = 3) bytes into RGBA words. */
function writeRGB(words, src, count, channels) {
  if (channels === 1) {
    for (let i = 0; i < count; i++) {
      const v = src[i];
      words[i] = packRGBA(v, v, v);
    }
  } else {
    for (let i = 0, j = 0; i < count; i++, j += 3) {
      words[i] = packRGBA(src[j], src[j + 1], src[j + 2]);
    }
  }
}

/** Paint every set bit (MSB first, row-major) of `bits` in `color`. */
function paintBits(words, bits, count, color) {
  const n = Math.min(bits.length, Math.ceil(count / 8));
  for (let byte = 0; byte < n; byte++) {
    const b = bits[byte];
    if (b === 0) continue;
    const base = byte * 8;
    for (let k = 0; k < 8; k++) {
      if (b & (0x80 >> k)) {
        const i = base + k;
        if (i < count) words[i] = color;
      }
    }
  }
}

/** output/boundaries.py draw_boundaries on RGBA bytes: the set bits of `bits` (the frame's `lines`) painted
 *  in `color`, faded where they crowd: rgb = (rgb·(8 − a) + color·a + 4) / 8, integers as there. */
function paintLines(rgba, bits, R, color) {
  const fade = facts.fadeEighths; // a painted pixel's opacity in eighths by the painted pixels in its 3x3
  const count = R * R;
  const on = new Uint8Array(count);
  for (let i = 0; i < count; i++) on[i] = (bits[i >> 3] >> (7 - (i & 7))) & 1;
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < R; c++) {
      const i = r * R + c;
      if (!on[i]) continue;
      let crowd = 0;
      for (let dr = -1; dr <= 1; dr++) {
        const rr = r + dr;
        if (rr < 0 || rr >= R) continue;
        for (let dc = -1; dc <= 1; dc++) {
          const cc = c + dc;
          if (cc >= 0 && cc < R) crowd += on[rr * R + cc];
        }
      }
      const a = fade[crowd];
      for (let k = 0; k < 3; k++) rgba[4 * i + k] = (rgba[4 * i + k] * (8 - a) + color[k] * a + 4) >> 3;
    }
  }
}

/** Size a display canvas's backing store to the CSS box of `reference` (itself by default);
 * true when it changed. */
export function fitCanvas(canvas, reference = canvas) {
  const dpr = window.devicePixelRatio || 1;
  const css = reference.clientWidth;
  if (!css) return false;
  const size = Math.max(1, Math.round(css * dpr));
  if (canvas.width === size && canvas.height === size) return false;
  canvas.width = size;
  canvas.height = size;
  return true;
}

function drawScaled(canvas, layer, thinLines = false) {
  const ctx = canvas.getContext("2d");
  // Nearest neighbour keeps pictures crisp; a strong reduction is smoothed, and any reduction
  // of the partition, whose boundaries are one pixel wide (nearest neighbour would drop some).
  ctx.imageSmoothingEnabled = thinLines ? canvas.width < layer.size : canvas.width * 2 < layer.size;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(layer.canvas, 0, 0, canvas.width, canvas.height);
}

export class Panels {
  constructor({ partition, prediction, target }) {
    this.canvases = { partition, prediction, target };
    this.partLayer = new Layer();
    this.predLayer = new Layer();
    this.frame = null; // latest frame not yet drawn, or the last one drawn
    this.frameDirty = false;
    this.targetDirty = true;
    this.options = { fillRegions: false, boundaries: true };
    this.targetImage = null; // HTMLImageElement once loaded
    this.targetUrl = null;
    this.targetColor = true;
    this.points = null;
    this.pointColors = { train: parseHex(facts.pointColors.train), val: parseHex(facts.pointColors.val) }; // [r, g, b]
    this.rafPending = false;
    this.hasFrame = false;
    this.painter = null; // draws partition and prediction from the weights (client mode)
    this.paintDirty = false;

    if (typeof ResizeObserver === "function") {
      const observer = new ResizeObserver(() => this._resized());
      for (const canvas of Object.values(this.canvases)) observer.observe(canvas);
    }
    window.addEventListener("resize", () => this._resized());
  }

  /** A parsed picture frame ({header, sections}); drawn on the next animation frame. */
  setFrame(frame) {
    this.setPainter(null);
    this.frame = frame;
    this.frameDirty = true;
    this._schedule();
  }

  /** The painter that draws partition and prediction from now on (null: server frames). */
  setPainter(painter) {
    if (painter === this.painter) return;
    this.painter = painter;
    // What was drawn belongs to the other source: never redrawn on a resize.
    this.frame = null;
    this.hasFrame = false;
    this.frameDirty = false;
    if (painter) {
      painter.setDisplay(this.options);
      this.repaint();
    }
  }

  /** The painter's net or view changed: draw on the next animation frame. */
  repaint() {
    this.paintDirty = true;
    this._schedule();
  }

  setOptions({ fillRegions, boundaries }) {
    if (fillRegions !== undefined) this.options.fillRegions = Boolean(fillRegions);
    if (boundaries !== undefined) this.options.boundaries = Boolean(boundaries);
    if (this.painter) {
      this.painter.setDisplay(this.options);
      this.repaint();
    }
    if (this.frame) {
      this.frameDirty = true;
      this._schedule();
    }
  }

  /** The target picture (url from `status.image_url`); `color` false shows it as the grey target. */
  setTarget(url, color) {
    color = Boolean(color);
    if (url === this.targetUrl && color === this.targetColor) return;
    this.targetColor = color;
    if (url === this.targetUrl) {
      this._markTarget();
      return;
    }
    this.targetUrl = url;
    this.targetImage = null;
    this._markTarget();
    if (!url) return;
    const img = new Image();
    img.decoding = "async";
    img.addEventListener("load", () => {
      if (this.targetUrl !== url) return;
      this.targetImage = img;
      this._markTarget();
    });
    img.addEventListener("error", () => {
      if (this.targetUrl === url) console.warn("target picture could not be loaded:", url);
    });
    img.src = url;
  }

  /** The `points` message: {size, train: [[row, col], ...], val: [...]}. */
  setPoints(points) {
    this.points = points;
    this._markTarget();
  }

  _markTarget() {
    this.targetDirty = true;
    this._schedule();
  }

  _resized() {
    // Synchronously, so a resized canvas is never shown blank.
    this._render();
  }

  _schedule() {
    if (this.rafPending) return;
    this.rafPending = true;
    requestAnimationFrame(() => {
      this.rafPending = false;
      this._render();
    });
  }

  _render() {
    let redrawLayers = false;
    for (const canvas of Object.values(this.canvases)) {
      if (!fitCanvas(canvas)) continue;
      if (canvas === this.canvases.target) this.targetDirty = true;
      else redrawLayers = true;
    }
    if (this.painter && (this.paintDirty || redrawLayers)) {
      this.paintDirty = false;
      try {
        if (this.painter.paint(this.canvases.partition, this.canvases.prediction)) this._drawn(this.painter.net.step);
      } catch (err) {
        console.warn("the panels could not be drawn:", err);
      }
    }
    if (redrawLayers && this.hasFrame && !this.frameDirty) this._drawLayers();
    if (this.frameDirty && this.frame) {
      this.frameDirty = false;
      try {
        this._decode(this.frame);
        this.hasFrame = true;
        this._drawLayers();
        this._drawn(this.frame.header.step);
      } catch (err) {
        console.warn("frame could not be drawn:", err);
      }
    }
    if (this.targetDirty) {
      this.targetDirty = false;
      this._drawTarget();
    }
  }

  _decode({ header, sections }) {
    const R = header.resolution;
    const C = header.channels;
    const count = R * R;
    this.predLayer.ensure(R);
    this.partLayer.ensure(R);
    const pred = this.predLayer.words;
    writeRGB(pred, sections.prediction, count, C);
    this.predLayer.commit();

    const part = this.partLayer.words;
    const filled = this.options.fillRegions && sections.regions;
    const classify = Array.isArray(header.classes); // the prediction is a class map already in colour
    if (filled) writeRGB(part, sections.regions, count, 3);
    else part.set(pred);
    if (this.options.boundaries && (sections.lines || sections.boundary)) {
      const c = classify ? facts.classRegionEdgeColor : filled ? facts.regionEdgeColor : facts.boundaryColor;
      if (sections.lines) paintLines(this.partLayer.image.data, sections.lines, R, c); // as output/boundaries.py paints them
      else paintBits(part, sections.boundary, count, packRGBA(c[0], c[1], c[2]));
    }
    if (classify && sections.decision) paintBits(part, sections.decision, count, packRGBA(...facts.decisionColor));
    this.partLayer.commit();
  }

  /** The step the partition and prediction panels show, on the canvas (for tests and tools). */
  _drawn(step) {
    this.canvases.partition.dataset.step = String(step);
  }

  _drawLayers() {
    drawScaled(this.canvases.partition, this.partLayer, true);
    drawScaled(this.canvases.prediction, this.predLayer);
  }

  _drawTarget() {
    const canvas = this.canvases.target;
    const S = canvas.width;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.clearRect(0, 0, S, S);
    if (!this.targetImage) return;
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(this.targetImage, 0, 0, S, S);
    const image = ctx.getImageData(0, 0, S, S);
    const data = image.data;
    if (!this.targetColor) {
      // The grey target the network fits (ITU-R 601 luma, as Pillow's convert("L")).
      for (let i = 0; i < data.length; i += 4) {
        const y = (data[i] * 299 + data[i + 1] * 587 + data[i + 2] * 114) / 1000;
        data[i] = data[i + 1] = data[i + 2] = y;
      }
    }
    // A classifier's points (`points` with classes): training points in their label's colour,
    // validation points black, over the picture faded (output/classmap.py labelled_target_rgb).
    const labelled = this.points && Array.isArray(this.points.classes) && Array.isArray(this.points.train_labels);
    if (labelled) {
      const fade = facts.unlabelledFade;
      for (let i = 0; i < data.length; i += 4) {
        for (let c = 0; c < 3; c++) data[i + c] = Math.round(data[i + c] * (1 - fade) + 255 * fade);
      }
    }
    if (this.points) {
      const size = this.points.size || 1024;
      const total = (this.points.train ? this.points.train.length : 0) + (this.points.val ? this.points.val.length : 0);
      let dot = Math.max(1, Math.round(S / 320));
      if (total > 50000) dot = Math.max(1, dot - 1);
      const words = new Uint32Array(data.buffer);
      // rgb: one colour for all, or a function of the point's index
      const plot = (list, rgb) => {
        if (!Array.isArray(list) || !rgb) return;
        const single = typeof rgb === "function" ? null : packRGBA(rgb[0], rgb[1], rgb[2]);
        const scale = S / size;
        const half = Math.floor(dot / 2);
        for (const [index, point] of list.entries()) {
          const color = single ?? rgb(index);
          const r0 = Math.floor((point[0] + 0.5) * scale) - half;
          const c0 = Math.floor((point[1] + 0.5) * scale) - half;
          for (let r = Math.max(0, r0); r < Math.min(S, r0 + dot); r++) {
            const row = r * S;
            for (let c = Math.max(0, c0); c < Math.min(S, c0 + dot); c++) words[row + c] = color;
          }
        }
      };
      if (labelled) {
        const palette = this.points.classes.map((c) => parseHex(c.color) || [128, 128, 128]).map((c) => packRGBA(...c));
        const labels = this.points.train_labels;
        plot(this.points.train, (i) => palette[labels[i]] ?? palette[0]);
        plot(this.points.val, facts.classValPointColor);
      } else {
        plot(this.points.train, this.pointColors.train);
        plot(this.points.val, this.pointColors.val);
      }
    }
    ctx.putImageData(image, 0, 0);
  }
}
