// A transparent canvas above the partition panel for exact geometry, in input
// coordinates (y up) mapped through the panel's view box: the polygons of the first
// k layers (layer slider), the inspected region's polygon, a neuron's zero line, and marks (the
// three points a plane through many inputs was drawn through, numbered 1, 2, 3).
// It never takes pointer events; clicks reach the partition canvas below.

import { fitCanvas } from "./panels.js";
import { SQUARE, toPixel } from "./viewbox.js";

const HIGHLIGHT_FILL = "rgba(79, 70, 229, 0.28)";
const HIGHLIGHT_EDGE = "#4338ca";
const NEURON_LINE = "#e11d8f";
const FOLD_EDGE = "rgba(20, 20, 20, 0.75)";
const DECISION_LINE = "#111111"; // a classifier's exact decision boundary inside the inspected region

export class Overlay {
  constructor(canvas, reference) {
    this.canvas = canvas;
    this.reference = reference; // the partition canvas it covers
    this.folding = null; // {polygons, colors}
    this.highlight = null; // {polygon, point, boundary: a classifier's decision segments in it}
    this.lines = {}; // neuron lines by who asked (the inspector, the network diagram): [[[x0, y0], [x1, y1]], ...]
    this.marks = []; // [[x, y], ...]: points of the square, numbered from 1
    this.box = SQUARE; // the input box the panel shows
    this.rafPending = false;
    if (typeof ResizeObserver === "function") new ResizeObserver(() => this.render()).observe(reference);
    window.addEventListener("resize", () => this.render());
  }

  /** Canvas pixel of an input point. */
  _px(p, S) {
    return toPixel(this.box, p, S, S);
  }

  /** The panel's view box changed (zoom): everything is drawn through it. */
  setView(box) {
    this.box = box;
    this.schedule();
  }

  setFolding(data) {
    this.folding = data;
    this.schedule();
  }

  setHighlight(polygon, point, boundary = null) {
    this.highlight = polygon ? { polygon, point, boundary } : null;
    this.schedule();
  }

  /** A neuron's zero line, kept under `key` so the inspector's and the diagram's do not clear each other. */
  setSegments(segments, key = "inspector") {
    if (segments && segments.length) this.lines[key] = segments;
    else delete this.lines[key];
    this.schedule();
  }

  /** Numbered points of the square (a plane's three points); [] for none. */
  setMarks(points) {
    this.marks = Array.isArray(points) ? points : [];
    this.schedule();
  }

  schedule() {
    if (this.rafPending) return;
    this.rafPending = true;
    requestAnimationFrame(() => {
      this.rafPending = false;
      this.render();
    });
  }

  _fit() {
    if (!this.reference.clientWidth) return false; // not laid out yet
    fitCanvas(this.canvas, this.reference);
    return true;
  }

  render() {
    if (!this._fit()) return;
    const S = this.canvas.width;
    const dpr = window.devicePixelRatio || 1;
    const ctx = this.canvas.getContext("2d");
    ctx.clearRect(0, 0, S, S);
    if (this.folding) this._drawFolding(ctx, S, dpr);
    if (this.highlight) this._drawHighlight(ctx, S, dpr);
    const neuronPasses = [[4.5 * dpr, "rgba(255, 255, 255, 0.85)"], [2.2 * dpr, NEURON_LINE]];
    for (const segments of Object.values(this.lines)) this._drawSegments(ctx, segments, S, neuronPasses);
    if (this.marks.length) this._drawMarks(ctx, S, dpr);
  }

  _drawMarks(ctx, S, dpr) {
    const r = 7 * dpr;
    ctx.font = `bold ${Math.round(12 * dpr)}px sans-serif`;
    this.marks.forEach((p, i) => {
      const [x, y] = this._px(p, S);
      for (const [width, colour] of [[4 * dpr, "#ffffff"], [2 * dpr, "#111111"]]) {
        ctx.lineWidth = width;
        ctx.strokeStyle = colour;
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.stroke();
      }
      ctx.lineWidth = 3 * dpr;
      ctx.strokeStyle = "#ffffff";
      ctx.strokeText(String(i + 1), x + r + 2 * dpr, y - r);
      ctx.fillStyle = "#111111";
      ctx.fillText(String(i + 1), x + r + 2 * dpr, y - r);
    });
  }

  _path(ctx, polygon, S) {
    ctx.beginPath();
    polygon.forEach((p, i) => {
      const [x, y] = this._px(p, S);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.closePath();
  }

  _drawFolding(ctx, S, dpr) {
    const { polygons, colors } = this.folding;
    ctx.lineJoin = "round";
    ctx.lineWidth = Math.max(0.5, 0.6 * dpr);
    ctx.strokeStyle = FOLD_EDGE;
    for (let i = 0; i < polygons.length; i++) {
      this._path(ctx, polygons[i], S);
      ctx.fillStyle = colors[i] || "#999";
      ctx.fill();
      ctx.stroke();
    }
  }

  _drawHighlight(ctx, S, dpr) {
    const { polygon, point, boundary } = this.highlight;
    if (polygon && polygon.length >= 3) {
      this._path(ctx, polygon, S);
      ctx.fillStyle = HIGHLIGHT_FILL;
      ctx.fill();
      ctx.lineJoin = "round";
      ctx.lineWidth = 4 * dpr;
      ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
      ctx.stroke();
      ctx.lineWidth = 2 * dpr;
      ctx.strokeStyle = HIGHLIGHT_EDGE;
      ctx.stroke();
    }
    if (boundary && boundary.length) {
      // The exact decision boundary inside the region: straight, since every score is affine here.
      ctx.setLineDash([6 * dpr, 4 * dpr]);
      this._drawSegments(ctx, boundary, S, [[4 * dpr, "rgba(255, 255, 255, 0.9)"], [2 * dpr, DECISION_LINE]]);
      ctx.setLineDash([]);
    }
    if (point) {
      const [x, y] = this._px(point, S);
      const r = 5 * dpr;
      ctx.lineWidth = 1.5 * dpr;
      ctx.strokeStyle = "#ffffff";
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.strokeStyle = HIGHLIGHT_EDGE;
      ctx.beginPath();
      ctx.moveTo(x - r, y);
      ctx.lineTo(x + r, y);
      ctx.moveTo(x, y - r);
      ctx.lineTo(x, y + r);
      ctx.stroke();
    }
  }

  // Straight segments in input coordinates, stroked once per [width, colour] pass (a light halo, then the line).
  _drawSegments(ctx, segments, S, passes) {
    ctx.lineCap = "round";
    for (const [width, color] of passes) {
      ctx.lineWidth = width;
      ctx.strokeStyle = color;
      ctx.beginPath();
      for (const [a, b] of segments) {
        const [x0, y0] = this._px(a, S);
        const [x1, y1] = this._px(b, S);
        ctx.moveTo(x0, y0);
        ctx.lineTo(x1, y1);
      }
      ctx.stroke();
    }
  }
}
