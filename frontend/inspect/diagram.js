// The network diagram: one node per hidden neuron, layer by layer, between the inputs (x, y; and
// t for a clip's network) and the outputs. Each node is a small picture of where that neuron is on over the square
// [-1, 1]² (pre-activation > 0, shaded by its size) with its switching line in pink; edges are
// coloured by the weight's sign (blue +, red −) and sized by its magnitude. Drawn from the
// same network the panels show (setNet), at most a few times a second. A clip's network: the
// pictures are of the slice at the moment shown, the edges (and the weights picked from them,
// t's included) of the network itself.
//
// Wide or deep networks stay usable: a layer wider than MAX_SHOWN shows its first neurons and
// "+N", only the strongest edges between two layers are drawn, and below MIN_NODE px a node
// keeps its size and the box scrolls. Pictures and edges go onto one canvas; an SVG above it
// holds the nodes people point at (hover, focus, click to pin: onHover / onPin).

import { sliceAt } from "../drawing/cliptime.js";
import { neuronLabel, neuronWords } from "../shared/neurons.js";

const MAX_SHOWN = 16; // nodes drawn per layer
const MIN_NODE = 12; // CSS px: smaller nodes would be unreadable, so the box scrolls instead
const MAX_NODE = 44;
const PAD = 8;
const ROW = 1.15; // row pitch, in node sides
const COLUMN = 1.9; // column pitch, in node sides (room for the edges)
const SCROLLBAR = 16;
const LABEL_H = 14; // room under the columns for layer numbers
const EDGES_PER_GAP = 240; // the strongest edges drawn between two columns...
const EDGES_IN_ALL = 3000; // ... and in the whole diagram
const EDGE_LEVELS = 8; // edges are drawn in this many strengths per sign, one path each
const MIN_INTERVAL_MS = 200; // thumbnails are refreshed at most 5x a second...
const COST_FACTOR = 6; // ... and never take more than a sixth of the time
const GRID_WORK = 3e6; // multiply-adds per refresh: sets the thumbnails' grid for big networks

const ON_LIGHT = [219, 234, 254];
const ON_DARK = [29, 78, 216];
const OFF = [236, 239, 243];
const LINE = [225, 29, 143]; // the overlay's neuron line colour (overlay.js)
const EDITED = "#d97706"; // edges and nodes set by hand (inspect/handedits.js) until training changes them
const PICK_PX = 6; // a click this close to a drawn edge picks its weight
const POSITIVE = "37, 99, 235";
const NEGATIVE = "220, 38, 38";
const SVG_NS = "http://www.w3.org/2000/svg";

/** Nodes shown of a layer of `width` neurons. */
export function shownCount(width) {
  return Math.min(width, MAX_SHOWN);
}

/** Side of the square grid each thumbnail is evaluated on: 24 for small networks, less for big ones. */
export function thumbnailGrid(parameters) {
  return Math.max(8, Math.min(24, Math.floor(Math.sqrt(GRID_WORK / Math.max(1, parameters)))));
}

/** The pre-activations of every hidden layer on a G×G grid over [-1, 1]² (row 0 at y = 1), as
 *  one Float32Array per layer, neuron-major (neuron j's values at [j·G², (j+1)·G²)). */
export function preActivations(net, G) {
  const P = G * G;
  let input = new Float32Array(2 * P);
  for (let r = 0; r < G; r++) {
    for (let c = 0; c < G; c++) {
      input[r * G + c] = -1 + (2 * c + 1) / G;
      input[P + r * G + c] = 1 - (2 * r + 1) / G;
    }
  }
  const slopes = net.slopes ?? net.widths.map(() => net.negativeSlope || 0); // one per hidden layer
  const w = net.weights;
  const layers = [];
  let at = 0;
  let inDim = 2;
  for (const [l, width] of net.widths.entries()) {
    const slope = slopes[l];
    const z = new Float32Array(width * P);
    const bias = at + width * inDim;
    for (let o = 0; o < width; o++) {
      const zo = o * P;
      z.fill(w[bias + o], zo, zo + P);
      for (let i = 0; i < inDim; i++) {
        const weight = w[at + o * inDim + i];
        if (weight === 0) continue;
        const src = i * P;
        for (let p = 0; p < P; p++) z[zo + p] += weight * input[src + p];
      }
    }
    layers.push(z);
    const next = new Float32Array(width * P);
    for (let k = 0; k < z.length; k++) next[k] = z[k] > 0 ? z[k] : slope * z[k];
    input = next;
    at = bias + width;
    inDim = width;
  }
  return layers;
}

/** Offsets of each layer's W and b in the flat weights (the `weights` section's layout). */
export function layerOffsets(net) {
  const sizes = [net.inDim || 2, ...net.widths, net.outDim];
  const out = [];
  let at = 0;
  for (let l = 1; l < sizes.length; l++) {
    out.push({ W: at, b: at + sizes[l] * sizes[l - 1], rows: sizes[l], cols: sizes[l - 1] });
    at += sizes[l] * sizes[l - 1] + sizes[l];
  }
  return out;
}

export class NetworkDiagram {
  /** box: the scrolling container; summary: a line saying what is shown; onHover(node|null) and
   *  onPin(node|null) with node = {layer (1-based), neuron (0-based)}; onPick(pick) when a person
   *  clicks an edge (a weight) or a node (its bias): pick = {layer (1-based, as the edit message),
   *  kind, row, col, value, anchor: {x, y, left?, top?, bottom?} in client px, origin: the element
   *  it was measured against (the editor follows it when the page moves)}. */
  constructor(box, summary, { onHover = () => {}, onPin = () => {}, onPick = () => {} } = {}) {
    this.box = box;
    this.summary = summary;
    this.onHover = onHover;
    this.onPin = onPin;
    this.onPick = onPick;
    this.edgeHits = []; // [x0, y0, x1, y1, layer, row, col] of every edge drawn
    this.edited = []; // [{layer, kind, row, col}] set by hand: marked
    this.marks = document.createElementNS(SVG_NS, "g");
    this.net = null;
    this.t = 0;
    this.layout = null;
    this.pinned = null;
    this.lastDraw = 0;
    this.cost = 0;
    this.timer = null;
    this.stage = document.createElement("div");
    this.stage.className = "diagram-stage";
    this.canvas = document.createElement("canvas");
    this.canvas.className = "diagram-canvas";
    this.canvas.dataset.testid = "diagram-canvas";
    this.svg = document.createElementNS(SVG_NS, "svg");
    this.stage.append(this.canvas, this.svg);
    box.append(this.stage);
    this.svg.addEventListener("pointerover", (e) => this._hover(e.target.closest(".diagram-node")));
    this.svg.addEventListener("pointerleave", () => this._hover(null));
    this.svg.addEventListener("focusin", (e) => this._hover(e.target.closest(".diagram-node")));
    this.svg.addEventListener("focusout", () => this._hover(null));
    this.svg.addEventListener("click", (e) => {
      const node = e.target.closest(".diagram-node, .diagram-output");
      if (node && node.classList.contains("diagram-node")) this._click(node);
      if (node) this._pickBias(node);
      else this._pickEdge(e);
    });
    this.svg.addEventListener("keydown", (e) => {
      const node = e.target.closest(".diagram-node, .diagram-output");
      if (e.key === "Enter" && node) {
        if (node.classList.contains("diagram-node")) this._click(node);
        this._pickBias(node);
      }
    });
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(() => {
        this.layout = null;
        this.schedule();
      }).observe(box);
    }
  }

  /** The network on screen ({widths, outDim, negativeSlope, weights, inDim}) and a clip's moment t. */
  setNet(net, t = 0) {
    const reshaped = !this.net || this.net.widths.join() !== net.widths.join() || this.net.outDim !== net.outDim
      || (this.net.inDim || 2) !== (net.inDim || 2);
    this.net = net;
    this.t = t;
    if (reshaped) {
      this.layout = null;
      this.setPinned(null);
    }
    this.schedule();
  }

  setTime(t) {
    if (t === this.t) return;
    this.t = t;
    this.schedule();
  }

  /** No network (a new one is being built): an empty box. */
  clear() {
    this.net = null;
    this.layout = null;
    this.setPinned(null);
    this.svg.replaceChildren();
    this.canvas.width = 1;
    this.canvas.height = 1;
    this.summary.textContent = "";
  }

  /** A sentence in place of the summary (why there is no diagram). */
  say(message) {
    this.summary.textContent = message;
  }

  setPinned(node) {
    this.pinned = node;
    for (const g of this.svg.querySelectorAll(".diagram-node")) {
      const on = node && Number(g.dataset.layer) === node.layer && Number(g.dataset.neuron) === node.neuron;
      g.classList.toggle("pinned", Boolean(on));
      g.setAttribute("aria-pressed", on ? "true" : "false");
    }
  }

  schedule() {
    if (this.timer !== null || !this.net) return;
    const wait = Math.max(0, this.lastDraw + Math.max(MIN_INTERVAL_MS, COST_FACTOR * this.cost) - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      requestAnimationFrame(() => this.draw());
    }, wait);
  }

  draw() {
    if (!this.net || !this.box.clientWidth) return;
    const started = performance.now();
    if (!this.layout) this._build();
    const net = sliceAt(this.net, this.t);
    const { G } = this.layout;
    const pre = preActivations(net, G);
    const ctx = this.canvas.getContext("2d");
    const dpr = this.layout.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this._drawEdges(ctx, this.net); // the weights themselves: a clip's t column too
    this._drawThumbnails(ctx, pre);
    this._drawEnds(ctx);
    this._drawMarks();
    this.canvas.dataset.step = String(net.step ?? "");
    this.lastDraw = performance.now();
    this.cost = this.lastDraw - started;
  }

  // -- layout: columns (inputs, hidden layers, outputs), node size, the SVG nodes -----------

  _build() {
    const { widths, outDim } = this.net;
    const inDim = this.net.inDim || 2;
    const L = widths.length;
    const rows = Math.max(inDim, outDim, ...widths.map(shownCount));
    const W = this.box.clientWidth;
    const H = this.box.clientHeight || W;
    const fitH = (H - 2 * PAD - LABEL_H) / (rows * ROW);
    const fitW = (W - 2 * PAD) / ((L + 2) * COLUMN);
    const s = Math.max(MIN_NODE, Math.min(MAX_NODE, Math.floor(Math.min(fitH, fitW))));
    const tall = 2 * PAD + LABEL_H + rows * ROW * s > H;
    const wide = 2 * PAD + (L + 2) * COLUMN * s > W;
    // a scroll bar one way takes room the other way
    const width = Math.max(W - (tall ? SCROLLBAR : 0), Math.ceil(2 * PAD + (L + 2) * COLUMN * s));
    const height = Math.max(H - (wide ? SCROLLBAR : 0), Math.ceil(2 * PAD + LABEL_H + rows * ROW * s));
    const pitch = (width - 2 * PAD) / (L + 2);
    const middle = (height - LABEL_H) / 2;
    const column = (i, n) => {
      const x = PAD + pitch * (i + 0.5);
      return Array.from({ length: n }, (_, j) => ({ x, y: middle + (j - (n - 1) / 2) * ROW * s }));
    };
    const columns = [column(0, inDim), ...widths.map((w, l) => column(l + 1, shownCount(w))), column(L + 1, outDim)];
    const parameters = layerOffsets(this.net).reduce((sum, o) => sum + o.rows * (o.cols + 1), 0);
    const dpr = window.devicePixelRatio || 1;
    this.layout = { s, width, height, pitch, columns, dpr, G: thumbnailGrid(parameters) };
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this._buildSvg();
    const hidden = widths.reduce((a, b) => a + b, 0);
    const shown = widths.reduce((a, w) => a + shownCount(w), 0);
    this.summary.textContent = shown < hidden ? `${shown} of ${hidden} neurons shown` : `${hidden} neurons`;
  }

  _buildSvg() {
    const { s, width, height, columns, pitch } = this.layout;
    const { widths } = this.net;
    const svg = this.svg;
    svg.replaceChildren();
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(height));
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const text = (x, y, words, cls) => {
      const el = document.createElementNS(SVG_NS, "text");
      el.setAttribute("x", x.toFixed(1));
      el.setAttribute("y", y.toFixed(1));
      el.setAttribute("text-anchor", "middle");
      el.setAttribute("class", cls);
      el.textContent = words;
      svg.append(el);
    };
    const labelEvery = Math.max(1, Math.ceil(22 / pitch)); // layer numbers thinned where columns are close
    widths.forEach((w, l) => {
      for (const [j, p] of columns[l + 1].entries()) {
        const g = document.createElementNS(SVG_NS, "g");
        g.setAttribute("class", "diagram-node");
        g.setAttribute("tabindex", "0");
        g.setAttribute("role", "button");
        g.setAttribute("aria-pressed", "false");
        g.dataset.layer = String(l + 1);
        g.dataset.neuron = String(j);
        const title = document.createElementNS(SVG_NS, "title");
        title.textContent = `${neuronWords(l + 1, j, { capital: true })} (${neuronLabel(l + 1, j)}): hover to draw where it switches, click to pin`;
        const rect = document.createElementNS(SVG_NS, "rect");
        rect.setAttribute("class", "node-frame");
        rect.setAttribute("x", (p.x - s / 2).toFixed(1));
        rect.setAttribute("y", (p.y - s / 2).toFixed(1));
        rect.setAttribute("width", String(s));
        rect.setAttribute("height", String(s));
        rect.setAttribute("rx", "2");
        g.append(title, rect);
        svg.append(g);
      }
      const last = columns[l + 1][columns[l + 1].length - 1];
      if (w > shownCount(w)) text(last.x, last.y + s / 2 + 10, `+${w - shownCount(w)}`, "diagram-more");
      if ((l + 1) % labelEvery === 0 || l === 0) text(columns[l + 1][0].x, height - 4, String(l + 1), "diagram-label");
    });
    const first = columns[0];
    if (first.length === 2) {
      text(first[0].x, first[0].y - s * 0.35, "x", "diagram-label");
      text(first[1].x, first[1].y + s * 0.35 + 8, "y", "diagram-label");
    } else { // x, y, t one above the other: each named on its left
      first.forEach((p, j) => {
        text(p.x - s * 0.18 - 6, p.y + 4, ["x", "y", "t"][j], "diagram-label");
        svg.lastChild.setAttribute("text-anchor", "end");
      });
    }
    const out = columns[columns.length - 1];
    text(out[0].x, out[0].y - s * 0.35, "out", "diagram-label");
    out.forEach((p, j) => { // the outputs: their biases can be set by hand
      const g = document.createElementNS(SVG_NS, "g");
      g.setAttribute("class", "diagram-output");
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.dataset.layer = String(widths.length + 1);
      g.dataset.neuron = String(j);
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = `Output ${j}: click to set its bias`;
      const circle = document.createElementNS(SVG_NS, "circle");
      circle.setAttribute("cx", p.x.toFixed(1));
      circle.setAttribute("cy", p.y.toFixed(1));
      circle.setAttribute("r", (s * 0.18 + 2).toFixed(1));
      g.append(title, circle);
      svg.append(g);
    });
    svg.append(this.marks);
    this.setPinned(this.pinned);
  }

  // -- edits by hand: picking a weight or bias, marking the edited ones ----------------------

  /** Mark these numbers as set by hand ([{layer, kind, row, col}]), until told otherwise. */
  setEdited(list) {
    this.edited = list;
    if (this.layout) this._drawMarks();
  }

  /** A point of the edge of weight (layer, row, col) that picks it (the one farthest from other
   *  edges), in client px; null where it is not drawn. */
  edgePoint(layer, row, col) {
    const hit = this.edgeHits.find((h) => h[4] === layer && h[5] === row && h[6] === col);
    if (!hit) return null;
    let best = null;
    for (const t of [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]) {
      const x = hit[0] + t * (hit[2] - hit[0]);
      const y = hit[1] + t * (hit[3] - hit[1]);
      let clear = Infinity;
      for (const h of this.edgeHits) if (h !== hit) clear = Math.min(clear, segmentDistance(x, y, h[0], h[1], h[2], h[3]));
      if (!best || clear > best.clear) best = { x, y, clear };
    }
    const rect = this.svg.getBoundingClientRect();
    return { x: rect.left + best.x, y: rect.top + best.y };
  }

  _value(layer, kind, row, col) {
    const o = layerOffsets(this.net)[layer - 1];
    return this.net.weights[kind === "bias" ? o.b + row : o.W + row * o.cols + col];
  }

  _pickBias(g) {
    if (!this.net) return;
    const layer = Number(g.dataset.layer);
    const row = Number(g.dataset.neuron);
    const rect = g.getBoundingClientRect();
    this.onPick({ layer, kind: "bias", row, col: null, value: this._value(layer, "bias", row),
                  anchor: { x: rect.right, y: rect.top + rect.height / 2, left: rect.left, top: rect.top,
                            bottom: rect.bottom }, origin: this.svg });
  }

  _pickEdge(event) {
    if (!this.net || !this.layout) return;
    const rect = this.svg.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    let best = null;
    let bestD = PICK_PX;
    for (const h of this.edgeHits) {
      const d = segmentDistance(x, y, h[0], h[1], h[2], h[3]);
      if (d < bestD) [best, bestD] = [h, d];
    }
    if (!best) return;
    const [, , , , layer, row, col] = best;
    this.onPick({ layer, kind: "weight", row, col, value: this._value(layer, "weight", row, col),
                  anchor: { x: event.clientX, y: event.clientY }, origin: this.svg });
  }

  /** The edited numbers, over the drawing: an amber line per edge, an amber ring per node. */
  _drawMarks() {
    this.marks.replaceChildren();
    const { s, columns } = this.layout;
    const half = (i) => (i === 0 || i === columns.length - 1 ? s * 0.18 : s / 2);
    for (const e of this.edited) {
      const to = columns[e.layer];
      const from = columns[e.layer - 1];
      if (!to || !to[e.row] || (e.kind === "weight" && !from[e.col])) continue; // not shown (a wide layer)
      const el = document.createElementNS(SVG_NS, e.kind === "weight" ? "line" : "circle");
      el.setAttribute("class", "diagram-edited");
      el.dataset.testid = "diagram-edited";
      el.dataset.key = `${e.layer}:${e.kind}:${e.row}:${e.col ?? ""}`;
      el.setAttribute("stroke", EDITED);
      if (e.kind === "weight") {
        el.setAttribute("x1", (from[e.col].x + half(e.layer - 1)).toFixed(1));
        el.setAttribute("y1", from[e.col].y.toFixed(1));
        el.setAttribute("x2", (to[e.row].x - half(e.layer)).toFixed(1));
        el.setAttribute("y2", to[e.row].y.toFixed(1));
        el.setAttribute("stroke-width", "3");
        el.setAttribute("stroke-dasharray", "5 3");
      } else {
        el.setAttribute("cx", to[e.row].x.toFixed(1));
        el.setAttribute("cy", to[e.row].y.toFixed(1));
        el.setAttribute("r", (half(e.layer) + 3).toFixed(1));
        el.setAttribute("fill", "none");
        el.setAttribute("stroke-width", "2.5");
      }
      this.marks.append(el);
    }
  }

  // -- drawing ------------------------------------------------------------------------------

  _drawEdges(ctx, net) {
    const { s, columns } = this.layout;
    const offsets = layerOffsets(net);
    const w = net.weights;
    const keep = Math.max(16, Math.min(EDGES_PER_GAP, Math.floor(EDGES_IN_ALL / offsets.length)));
    this.edgeHits = [];
    const half = (i) => (i === 0 || i === columns.length - 1 ? s * 0.18 : s / 2);
    offsets.forEach((o, gap) => {
      const from = columns[gap];
      const to = columns[gap + 1];
      const edges = [];
      let max = 0;
      for (let r = 0; r < to.length; r++) {
        for (let c = 0; c < from.length; c++) {
          const value = w[o.W + r * o.cols + c];
          max = Math.max(max, Math.abs(value));
          edges.push([value, r, c]);
        }
      }
      if (!max) max = 1; // a network of zeros: every edge faint, still there to be picked
      if (edges.length > keep) {
        edges.sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]));
        edges.length = keep;
      }
      // one path per sign and strength level: a few strokes instead of one per edge
      const paths = new Map();
      for (const [value, r, c] of edges) {
        const level = Math.min(EDGE_LEVELS - 1, Math.floor((Math.abs(value) / max) * EDGE_LEVELS));
        const key = (value > 0 ? 0 : EDGE_LEVELS) + level;
        if (!paths.has(key)) paths.set(key, []);
        paths.get(key).push(from[c].x + half(gap), from[c].y, to[r].x - half(gap + 1), to[r].y);
        this.edgeHits.push([from[c].x + half(gap), from[c].y, to[r].x - half(gap + 1), to[r].y, gap + 1, r, c]);
      }
      for (const [key, lines] of paths) {
        const m = ((key % EDGE_LEVELS) + 1) / EDGE_LEVELS;
        ctx.strokeStyle = `rgba(${key < EDGE_LEVELS ? POSITIVE : NEGATIVE}, ${(0.05 + 0.55 * m * m).toFixed(3)})`;
        ctx.lineWidth = 0.25 + 1.75 * m;
        ctx.beginPath();
        for (let i = 0; i < lines.length; i += 4) {
          ctx.moveTo(lines[i], lines[i + 1]);
          ctx.lineTo(lines[i + 2], lines[i + 3]);
        }
        ctx.stroke();
      }
    });
  }

  _drawThumbnails(ctx, pre) {
    const { s, columns, G } = this.layout;
    const P = G * G;
    // every thumbnail into one atlas (one putImageData), then each copied to its node
    const nodes = pre.reduce((n, _, l) => n + columns[l + 1].length, 0);
    const atlas = this.atlas || (this.atlas = document.createElement("canvas"));
    atlas.width = G;
    atlas.height = G * nodes;
    const actx = atlas.getContext("2d");
    const image = actx.createImageData(G, G * nodes);
    const px = image.data;
    let slot = 0;
    pre.forEach((z, l) => {
      columns[l + 1].forEach((_, j) => {
        const v = z.subarray(j * P, (j + 1) * P);
        let top = 0;
        for (let k = 0; k < P; k++) if (v[k] > top) top = v[k];
        const scale = top > 0 ? 1 / top : 0;
        const base = 4 * P * slot++;
        for (let k = 0; k < P; k++) {
          const c = k % G;
          const on = v[k] > 0;
          // the switching line: a cell whose right or lower neighbour is on the other side
          const edge = (c + 1 < G && v[k + 1] > 0 !== on) || (k + G < P && v[k + G] > 0 !== on);
          const o = base + 4 * k;
          if (edge) {
            px[o] = LINE[0]; px[o + 1] = LINE[1]; px[o + 2] = LINE[2];
          } else if (on) {
            const f = Math.min(1, v[k] * scale);
            px[o] = ON_LIGHT[0] + f * (ON_DARK[0] - ON_LIGHT[0]);
            px[o + 1] = ON_LIGHT[1] + f * (ON_DARK[1] - ON_LIGHT[1]);
            px[o + 2] = ON_LIGHT[2] + f * (ON_DARK[2] - ON_LIGHT[2]);
          } else {
            px[o] = OFF[0]; px[o + 1] = OFF[1]; px[o + 2] = OFF[2];
          }
          px[o + 3] = 255;
        }
      });
    });
    actx.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    slot = 0;
    pre.forEach((_, l) => {
      for (const p of columns[l + 1]) ctx.drawImage(atlas, 0, G * slot++, G, G, p.x - s / 2, p.y - s / 2, s, s);
    });
  }

  /** Inputs and outputs: small circles. */
  _drawEnds(ctx) {
    const { s, columns } = this.layout;
    ctx.fillStyle = "#ffffff";
    ctx.strokeStyle = "#6b7280";
    ctx.lineWidth = 1.2;
    for (const p of [...columns[0], ...columns[columns.length - 1]]) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, s * 0.18, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  }

  // -- pointing ------------------------------------------------------------------------------

  _node(g) {
    return g ? { layer: Number(g.dataset.layer), neuron: Number(g.dataset.neuron) } : null;
  }

  _hover(g) {
    const node = this._node(g);
    if (node && this.hovered && node.layer === this.hovered.layer && node.neuron === this.hovered.neuron) return;
    if (!node && !this.hovered) return;
    this.hovered = node;
    this.onHover(node);
  }

  _click(g) {
    const node = this._node(g);
    if (!node) return;
    const same = this.pinned && this.pinned.layer === node.layer && this.pinned.neuron === node.neuron;
    this.setPinned(same ? null : node);
    this.onPin(this.pinned);
  }
}

/** Distance from (x, y) to the segment (x0, y0)–(x1, y1). */
function segmentDistance(x, y, x0, y0, x1, y1) {
  const dx = x1 - x0;
  const dy = y1 - y0;
  const t = Math.max(0, Math.min(1, ((x - x0) * dx + (y - y0) * dy) / (dx * dx + dy * dy || 1)));
  return Math.hypot(x - (x0 + t * dx), y - (y0 + t * dy));
}
