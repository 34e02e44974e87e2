// The surface sampled on a grid from the network's weights: what the panel draws between exact
// updates and for networks past the exact budget. The network is evaluated at the grid's vertices
// (the outputs: the heights) and at its cells' centres (the pattern, hence the cell's colour, and a
// classifier's winner). Straight triangles between samples round every crease that crosses a
// cell, so the panel says "sampled".

import { patternColor } from "./patterncolor.js";

const FLOPS_BUDGET = 1.2e7; // multiply-adds per sampling: ~25 ms of JavaScript on a quiet core
const MIN_CELLS = 24;
const MAX_CELLS = 96;

/** Cells per side for a network of `params` parameters. */
export function gridCells(params) {
  return Math.max(MIN_CELLS, Math.min(MAX_CELLS, Math.floor(Math.sqrt(FLOPS_BUDGET / 2 / Math.max(1, params)))));
}

/** The network's layers from the wire layout (2 inputs: a clip's network comes sliced at t). */
function layersOf(net) {
  const sizes = [2, ...net.widths, net.outDim];
  const layers = [];
  let at = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const nIn = sizes[l], nOut = sizes[l + 1];
    layers.push({ nIn, nOut, W: net.weights.subarray(at, at + nIn * nOut), b: net.weights.subarray(at + nIn * nOut, at + nIn * nOut + nOut) });
    at += nOut * (nIn + 1);
  }
  return { layers, params: at, hidden: net.widths.reduce((a, w) => a + w, 0) };
}

/** Evaluator of a net {widths, outDim, negativeSlope, weights} (2 inputs): eval(x, y, out, bits). */
export function evaluator(net) {
  const { layers, params, hidden } = layersOf(net);
  const slope = Number(net.negativeSlope) || 0;
  const width = Math.max(2, ...layers.map((L) => L.nOut));
  const bufA = new Float64Array(width), bufB = new Float64Array(width);
  /** Outputs into `out` (length outDim); the pattern's bits into `bits` (Uint32Array words) when given. */
  function evaluate(x, y, out, bits = null) {
    let a = bufA, z = bufB; // locals: swapping captured variables would slow the loop several times
    a[0] = x;
    a[1] = y;
    let h = 0;
    if (bits) bits.fill(0);
    for (let l = 0; l < layers.length; l++) {
      const { nIn, nOut, W, b } = layers[l];
      const last = l === layers.length - 1;
      for (let j = 0; j < nOut; j++) {
        let s = b[j];
        const row = j * nIn;
        for (let i = 0; i < nIn; i++) s += W[row + i] * a[i];
        if (last) out[j] = s;
        else {
          if (s > 0) {
            if (bits) bits[h >> 5] |= 1 << (h & 31);
            z[j] = s;
          } else z[j] = slope * s;
          h++;
        }
      }
      if (!last) {
        const swap = a;
        a = z;
        z = swap;
      }
    }
  }
  return { evaluate, params, hidden };
}

/** {n, box, outDim, outputs (vertices, (n+1)² × K, row-major from (x0, y0)), colors (cells, n² × 3),
 *  winner (cells, a classifier's argmax at the centre, else null), step} */
export function sampleSurface(net, box, { classify = false } = {}) {
  const { evaluate, params, hidden } = evaluator(net);
  const n = gridCells(params);
  const K = net.outDim;
  const outputs = new Float64Array((n + 1) * (n + 1) * K);
  const out = new Float64Array(K);
  const dx = (box.x1 - box.x0) / n, dy = (box.y1 - box.y0) / n;
  for (let r = 0; r <= n; r++) {
    for (let c = 0; c <= n; c++) {
      evaluate(box.x0 + c * dx, box.y0 + r * dy, out);
      outputs.set(out, (r * (n + 1) + c) * K);
    }
  }
  const words = new Uint32Array(2 * Math.max(1, Math.ceil(hidden / 64)));
  const colors = new Uint8Array(n * n * 3);
  const winner = classify ? new Uint8Array(n * n) : null;
  const known = new Map(); // pattern -> colour: neighbouring cells mostly share one
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      evaluate(box.x0 + (c + 0.5) * dx, box.y0 + (r + 0.5) * dy, out, words);
      const key = words.join(",");
      let rgb = known.get(key);
      if (!rgb) known.set(key, (rgb = patternColor(words)));
      colors.set(rgb, 3 * (r * n + c));
      if (winner) {
        let best = 0;
        for (let k = 1; k < K; k++) if (out[k] > out[best]) best = k;
        winner[r * n + c] = best;
      }
    }
  }
  return { n, box, outDim: K, outputs, colors, winner, step: net.step };
}
