// The notebook widget's front end (polytope_lens/notebook/lens.py, an anywidget): the partition and
// prediction panels, drawn by the page's own renderer (drawing/renderer.js) from the weights the
// kernel sends, and a small chart of the loss and the region count when losses come with them.
//
// The kernel's widget state (traitlets):
//   weights  bytes: the flat float32 layout (docs/protocol.md "Weights instead of pictures")
//   network  {widths, out_dim, slopes (one per hidden layer), class_colors, box: [x0, x1, y0, y1], step}
//   view     {size (CSS pixels of a panel), fill_regions, boundaries}
//   history  bytes: float64 (step, loss) pairs, oldest first (thinned by the kernel)
//
// notebook/lens.py sends this file as one ES module with the renderer's code in front of it
// (the import line below stands for it, and the renderer's facts come from the kernel), so a
// notebook needs no server. As an anywidget module it exports render({model, el}).
//
// The region count is counted here, on the panel's grid (the distinct patterns of its pixels):
// the kernel never computes geometry for the chart, so update() costs the training loop nothing
// but the send.

import { MLPRenderer } from "../drawing/renderer.js";

const LENS_CHART_HEIGHT = 110; // CSS pixels of the loss / region-count chart
const LENS_LOSS_COLOR = "#1f6fd1";
const LENS_REGIONS_COLOR = "#d1461f";

/** A copy of a bytes traitlet (a DataView in anywidget, an ArrayBuffer or typed array elsewhere). */
function lensBytes(value) {
  if (!value) return new Uint8Array(0);
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  const view = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return view.slice(); // aligned, owned
}

/** The number of distinct activation patterns among the pixels (the renderer's readPatterns). */
function lensGridRegions(renderer) {
  const { words, wordsPerPixel } = renderer.readPatterns();
  const seen = new Set();
  for (let i = 0; i < words.length; i += wordsPerPixel) {
    let key = "";
    for (let k = 0; k < wordsPerPixel; k++) key += words[i + k].toString(36) + ",";
    seen.add(key);
  }
  return seen.size;
}

function lensCanvas(parent, cssWidth, cssHeight, title, testid) {
  const figure = document.createElement("figure");
  figure.style.cssText = "margin:0;display:inline-block;vertical-align:top;text-align:center;font:12px sans-serif";
  const canvas = document.createElement("canvas");
  canvas.dataset.testid = testid;
  canvas.style.cssText = `width:${cssWidth}px;height:${cssHeight}px;image-rendering:pixelated;border:1px solid #ccc;display:block`;
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  figure.append(canvas, caption);
  parent.append(figure);
  return canvas;
}

/** Two lines over the steps: the loss (log scale, left) and the grid region count (right). */
function lensDrawChart(canvas, history, regions) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 320, h = LENS_CHART_HEIGHT;
  canvas.width = Math.round(w * ratio);
  canvas.height = Math.round(h * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px sans-serif";
  const pad = { l: 52, r: 52, t: 8, b: 18 };
  const number = (v) => (v >= 0.01 && v < 1e4 ? v.toPrecision(2) : v.toExponential(1));
  const steps = [...history.map((p) => p[0]), ...regions.map((p) => p[0])];
  if (!steps.length) return;
  const s0 = Math.min(...steps), s1 = Math.max(s0 + 1, ...steps);
  const x = (s) => pad.l + ((s - s0) / (s1 - s0)) * (w - pad.l - pad.r);
  const line = (points, value, color) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach(([s, v], i) => (i ? ctx.lineTo(x(s), value(v)) : ctx.moveTo(x(s), value(v))));
    ctx.stroke();
    const [s, v] = points[points.length - 1]; // the newest point, marked (alone, it would not show)
    ctx.fillStyle = color;
    ctx.fillRect(x(s) - 2, value(v) - 2, 4, 4);
  };
  const positive = history.filter((p) => p[1] > 0 && Number.isFinite(p[1]));
  if (positive.length) {
    const logs = positive.map((p) => Math.log10(p[1]));
    const lo = Math.min(...logs), hi = Math.max(lo + 1e-9, ...logs);
    const y = (v) => pad.t + ((hi - Math.log10(v)) / (hi - lo)) * (h - pad.t - pad.b);
    line(positive, y, LENS_LOSS_COLOR);
    ctx.fillStyle = LENS_LOSS_COLOR;
    ctx.textAlign = "right";
    ctx.fillText(number(10 ** hi), pad.l - 4, pad.t + 8);
    ctx.fillText(number(10 ** lo), pad.l - 4, h - pad.b);
    ctx.textAlign = "left";
    ctx.fillText("loss (log)", pad.l, h - 4); // series names under the plot, clear of the lines
  }
  if (regions.length) {
    const counts = regions.map((p) => p[1]);
    const lo = Math.min(...counts), hi = Math.max(lo + 1, ...counts);
    const y = (v) => pad.t + ((hi - v) / (hi - lo)) * (h - pad.t - pad.b);
    line(regions, y, LENS_REGIONS_COLOR);
    ctx.fillStyle = LENS_REGIONS_COLOR;
    ctx.textAlign = "left";
    ctx.fillText(String(hi), w - pad.r + 4, pad.t + 8);
    ctx.fillText(String(lo), w - pad.r + 4, h - pad.b);
    ctx.textAlign = "right";
    ctx.fillText("regions on the grid", w - pad.r, h - 4);
  }
  ctx.fillStyle = "#555";
  ctx.textAlign = "center";
  ctx.fillText(`step ${s0} … ${s1}`, w / 2, h - 4);
}

export function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "polytope-lens-widget";
  root.style.cssText = "font:12px sans-serif";
  el.append(root);
  const status = document.createElement("div");
  status.dataset.testid = "lens-status";
  status.style.cssText = "margin:2px 0 4px";
  const row = document.createElement("div");
  root.append(row, status);
  const size = () => Math.max(16, Number(model.get("view")?.size) || 320);
  const partition = lensCanvas(row, size(), size(), "linear regions", "lens-partition");
  const prediction = lensCanvas(row, size(), size(), "prediction", "lens-prediction");
  const chart = document.createElement("canvas");
  chart.dataset.testid = "lens-chart";
  chart.style.cssText = `display:none;width:${2 * size() + 8}px;height:${LENS_CHART_HEIGHT}px;margin-top:4px`;
  root.append(chart);

  let renderer = null;
  try {
    renderer = new MLPRenderer(document.createElement("canvas"), { manual: true }); // never shown: copied onto the panels
  } catch (err) {
    status.textContent = `This browser cannot draw the panels (WebGL2: ${err.message}).`;
    root.dataset.error = status.textContent;
  }
  const regions = []; // [step, grid region count] of each drawn update, kept by this view
  let frame = 0;

  const draw = () => {
    frame = 0;
    const net = model.get("network"), bytes = lensBytes(model.get("weights")), view = model.get("view") || {};
    if (!renderer || !renderer.gl || !net || !Array.isArray(net.widths) || !bytes.byteLength) return;
    const side = Math.max(1, Math.round(size() * (window.devicePixelRatio || 1)));
    try {
      renderer.setWeights({ widths: net.widths, outDim: net.out_dim, slopes: net.slopes,
        weights: new Float32Array(bytes.buffer), classColors: net.class_colors ?? null });
    } catch (err) {
      status.textContent = `The page's renderer cannot draw this network: ${err.message}`;
      root.dataset.error = status.textContent;
      return;
    }
    const [x0, x1, y0, y1] = net.box ?? [-1, 1, -1, 1];
    renderer.setView({ x0, x1, y0, y1 });
    renderer.resize(side, side);
    const display = { fillRegions: Boolean(view.fill_regions), boundaries: view.boundaries !== false };
    for (const [canvas, panel] of [[partition, "partition"], [prediction, "prediction"]]) {
      canvas.width = side;
      canvas.height = side;
      canvas.style.width = canvas.style.height = `${size()}px`;
      renderer.render({ ...display, panel });
      const ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(renderer.canvas, 0, 0); // same task as the draw: the GL buffer is intact
    }
    const count = lensGridRegions(renderer);
    const step = Number(net.step) || 0;
    if (regions.length && regions[regions.length - 1][0] >= step) regions.length = 0; // a new run: start over
    regions.push([step, count]);
    const history = lensHistory();
    const loss = history.length ? history[history.length - 1][1] : null;
    status.textContent = `step ${step} · ${count.toLocaleString("en")} regions on the ${side}² grid` +
      (loss !== null ? ` · loss ${loss.toPrecision(4)}` : "");
    drawChart(history);
    delete root.dataset.error;
    root.dataset.step = String(step);
    root.dataset.regions = String(count);
    root.dataset.drawn = String(Number(root.dataset.drawn || 0) + 1);
  };

  const lensHistory = () => {
    const bytes = lensBytes(model.get("history"));
    const pairs = new Float64Array(bytes.buffer, 0, Math.floor(bytes.byteLength / 8));
    const out = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) out.push([pairs[i], pairs[i + 1]]);
    return out;
  };

  const drawChart = (history) => {
    if (!history.length) {
      chart.style.display = "none";
      return;
    }
    chart.style.display = "block";
    lensDrawChart(chart, history, regions);
  };

  const request = () => {
    if (!frame) frame = requestAnimationFrame(draw);
  };
  const names = ["change:weights", "change:network", "change:view"];
  for (const name of names) model.on(name, request);
  request();
  return () => {
    for (const name of names) model.off(name, request);
    if (frame) cancelAnimationFrame(frame);
    renderer?.dispose();
  };
}

export default { render };
