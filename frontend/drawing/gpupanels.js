// The partition and prediction panels drawn by the page: one MLPRenderer on a canvas of
// its own (never in the page) evaluates the net once per change at the larger panel's
// device-pixel size, then composes each panel and copies it onto the panel's 2-D canvas.
// panels.js decides when (one animation frame per change: new weights, view, size).

import { sliceAt } from "./cliptime.js";
import { MLPRenderer } from "./renderer.js";
import { SQUARE } from "./viewbox.js";

export class GpuPanels {
  /** Throws when WebGL2 cannot be had; onLost() when the GPU context goes away later. */
  constructor({ onLost = () => {} } = {}) {
    const canvas = document.createElement("canvas");
    canvas.addEventListener("webglcontextlost", () => onLost());
    // manual: panels.js asks for every redraw (the renderer's own canvas is never shown).
    this.renderer = new MLPRenderer(canvas, { manual: true });
    this.net = null;
    this.netDirty = false;
    this.box = SQUARE;
    this.display = { fillRegions: false, boundaries: true };
    this.t = 0; // the moment of a clip's (x, y, t) network that is drawn (cliptime.js)
  }

  setTime(t) {
    if (t === this.t) return;
    this.t = t;
    this.netDirty = true;
  }

  fits(net) {
    return this.renderer.fits(net).ok;
  }

  setNet(net) {
    this.net = net;
    this.netDirty = true;
  }

  setView(box) {
    this.box = box;
    this.renderer.setView(box);
  }

  setDisplay({ fillRegions, boundaries }) {
    this.display = { fillRegions: Boolean(fillRegions), boundaries: Boolean(boundaries) };
  }

  /** Draw the net onto the two panel canvases at their size; false when there is nothing to draw. */
  paint(partition, prediction) {
    const r = this.renderer;
    if (!this.net || !r.gl) return false;
    if (this.netDirty) {
      this.netDirty = false;
      try {
        r.setWeights(sliceAt(this.net, this.t));
      } catch (err) {
        console.warn("the page's renderer cannot draw this network:", err.message);
        this.net = null;
        return false;
      }
    }
    // Evaluated at the larger panel's size (the partition's: its one-pixel boundaries are copied
    // pixel for pixel); a smaller panel gets a smoothed reduction of it.
    r.resize(Math.max(partition.width, prediction.width), Math.max(partition.height, prediction.height));
    for (const [canvas, panel] of [[partition, "partition"], [prediction, "prediction"]]) {
      if (!r.render({ ...this.display, panel })) return false;
      const ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = canvas.width < r.canvas.width;
      ctx.drawImage(r.canvas, 0, 0, canvas.width, canvas.height); // same task as the draw: its buffer is intact
    }
    return true;
  }

  dispose() {
    this.renderer.dispose();
  }
}
