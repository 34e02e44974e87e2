// Loss (log scale), region-count (grid and exact) and edge-density charts over
// steps, drawn with plotly.js.
// Points are buffered and appended with Plotly.extendTraces a few times a
// second; long runs are thinned (every other point dropped) so the charts
// stay cheap however long training goes on.

const FLUSH_MS = 250;
const MAX_POINTS = 4000;

export const CHART_FONT = { family: "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 12, color: "#374151" };
// Markers (at most a few dozen) so that a run's very first point is visible too.
export const LINE = { type: "scatter", mode: "lines+markers" };
export const MARKER = { size: 4, maxdisplayed: 30 };
const CONFIG = { displayModeBar: false, responsive: true, displaylogo: false };
export const CHART_CONFIG = CONFIG;

export function baseLayout(yTitle, logY) {
  return {
    margin: { l: 58, r: 12, t: 8, b: 40 },
    font: CHART_FONT,
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "#ffffff",
    showlegend: true,
    legend: { orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom", bgcolor: "rgba(0,0,0,0)" },
    xaxis: { title: { text: "step" }, gridcolor: "#eef0f3", zeroline: false, rangemode: "tozero" },
    yaxis: {
      title: { text: yTitle },
      type: logY ? "log" : "linear",
      gridcolor: "#eef0f3",
      zeroline: false,
      exponentformat: "power",
      rangemode: logY ? undefined : "tozero",
    },
    hovermode: "x unified",
    uirevision: "keep",
  };
}

function positive(v) {
  return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null;
}

function finite(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** Points per trace (each trace its own x), buffered until the next flush. */
class Series {
  constructor(count) {
    this.count = count;
    this.clear();
  }

  /** points[i]: [x, y] for trace i, or null/undefined for no point. */
  push(points) {
    points.forEach((p, i) => {
      if (!p) return;
      this.pending[i].x.push(p[0]);
      this.pending[i].y.push(p[1]);
    });
  }

  clear() {
    this.traces = Array.from({ length: this.count }, () => ({ x: [], y: [] }));
    this.pending = Array.from({ length: this.count }, () => ({ x: [], y: [] }));
  }

  /** Move pending points into the series; returns {index: {x, y}} of traces that got some, or null. */
  take() {
    const fresh = {};
    let any = false;
    this.pending.forEach((p, i) => {
      if (p.x.length === 0) return;
      any = true;
      fresh[i] = p;
      for (const v of p.x) this.traces[i].x.push(v);
      for (const v of p.y) this.traces[i].y.push(v);
    });
    this.pending = Array.from({ length: this.count }, () => ({ x: [], y: [] }));
    return any ? fresh : null;
  }

  /** Keep every other point (always the last one) of traces past MAX_POINTS; true when it thinned. */
  thin() {
    let thinned = false;
    const keep = (arr) => arr.filter((_, i) => i % 2 === 0 || i === arr.length - 1);
    for (const t of this.traces) {
      if (t.x.length <= MAX_POINTS) continue;
      t.x = keep(t.x);
      t.y = keep(t.y);
      thinned = true;
    }
    return thinned;
  }
}

export class Chart {
  constructor(div, traces, layout) {
    this.div = div;
    this.traces = traces;
    this.layout = layout;
    this.series = new Series(traces.length);
    this.ready = null;
    this.needsRebuild = false;
    if (window.Plotly && div) {
      this.ready = window.Plotly.newPlot(div, this._data(), layout, CONFIG).catch((err) => {
        console.warn("chart could not be created:", err);
        this.ready = null;
      });
    }
  }

  _data() {
    return this.traces.map((t, i) => ({ ...t, x: this.series.traces[i].x.slice(), y: this.series.traces[i].y.slice() }));
  }

  push(points) {
    this.series.push(points);
  }

  clear() {
    this.series.clear();
    this.needsRebuild = true;
  }

  async flush() {
    if (!this.ready) {
      this.series.take();
      this.series.thin();
      return;
    }
    await this.ready;
    const fresh = this.series.take();
    const thinned = this.series.thin();
    if (this.needsRebuild || thinned) {
      this.needsRebuild = false;
      await window.Plotly.react(this.div, this._data(), this.layout, CONFIG);
    } else if (fresh) {
      const idx = Object.keys(fresh).map(Number);
      await window.Plotly.extendTraces(this.div, { x: idx.map((i) => fresh[i].x), y: idx.map((i) => fresh[i].y) }, idx);
    }
  }
}

export class Charts {
  /** classify: {accuracy, boundary} divs of a classifier's charts (optional). */
  constructor(lossDiv, regionsDiv, densityDiv, classify = {}) {
    this.loss = new Chart(
      lossDiv,
      [
        { name: "train", ...LINE, line: { color: "#e11d48", width: 2 }, marker: { ...MARKER, color: "#e11d48" } },
        { name: "validation", ...LINE, line: { color: "#2563eb", width: 2, dash: "dot" }, marker: { ...MARKER, color: "#2563eb" } },
      ],
      baseLayout("MSE (log)", true),
    );
    this.regions = new Chart(
      regionsDiv,
      [
        { name: "on the grid", ...LINE, line: { color: "#f97316", width: 2 }, marker: { ...MARKER, color: "#f97316" } },
        { name: "exact", ...LINE, line: { color: "#4f46e5", width: 2 }, marker: { ...MARKER, color: "#4f46e5" } },
      ],
      baseLayout("regions", false),
    );
    this.density = densityDiv
      ? new Chart(
          densityDiv,
          [
            { name: "near target edges", ...LINE, line: { color: "#db2777", width: 2 }, marker: { ...MARKER, color: "#db2777" } },
            { name: "far from edges", ...LINE, line: { color: "#0d9488", width: 2, dash: "dot" }, marker: { ...MARKER, color: "#0d9488" } },
          ],
          baseLayout("regions per unit area", false),
        )
      : null;
    // A classifier's: train/validation accuracy, and its exact decision boundary's length and the
    // linear regions it crosses (right axis), at exact_step.
    this.accuracy = classify.accuracy
      ? new Chart(
          classify.accuracy,
          [
            { name: "train", ...LINE, line: { color: "#e11d48", width: 2 }, marker: { ...MARKER, color: "#e11d48" } },
            { name: "validation", ...LINE, line: { color: "#2563eb", width: 2, dash: "dot" }, marker: { ...MARKER, color: "#2563eb" } },
          ],
          { ...baseLayout("accuracy", false), yaxis: { ...baseLayout("accuracy", false).yaxis, range: [0, 1.02], rangemode: undefined, tickformat: ".0%" } },
        )
      : null;
    const boundaryLayout = baseLayout("length", false);
    boundaryLayout.margin = { ...boundaryLayout.margin, r: 58 };
    boundaryLayout.yaxis2 = { title: { text: "regions crossed" }, overlaying: "y", side: "right", rangemode: "tozero", zeroline: false, showgrid: false };
    this.boundary = classify.boundary
      ? new Chart(
          classify.boundary,
          [
            { name: "length", ...LINE, line: { color: "#111827", width: 2 }, marker: { ...MARKER, color: "#111827" } },
            { name: "regions crossed", ...LINE, yaxis: "y2", line: { color: "#4f46e5", width: 2, dash: "dot" }, marker: { ...MARKER, color: "#4f46e5" } },
          ],
          boundaryLayout,
        )
      : null;
    this.lastBoundaryStep = -1;
    this.lastStep = -1;
    this.lastExactStep = -1;
    this.timer = null;
    this.flushing = false;
  }

  /** One frame header (docs/protocol.md); a step lower than the last one means a new run (cleared).
   * Losses, grid count and densities are plotted at the step they were measured at: updates
   * that only repeat a measurement (weights sent between measurements) add nothing. */
  addFrame(h) {
    const step = typeof h.measured_step === "number" ? h.measured_step : h.step;
    if (typeof step !== "number") return;
    if (step < this.lastStep) this.clear();
    // An exact count (and a classifier's boundary) finished in the background may come with a
    // later update of the same measured step: it is new even though the step is not.
    const repeat = step === this.lastStep;
    this.lastStep = step;
    let exact = null;
    const es = h.exact_step;
    if (h.exact_status === "exact" && typeof es === "number" && es > this.lastExactStep && finite(h.exact_regions) !== null) {
      this.lastExactStep = es;
      exact = [es, h.exact_regions];
    }
    if (this.boundary && typeof es === "number" && es > this.lastBoundaryStep && finite(h.boundary_length) !== null) {
      this.lastBoundaryStep = es;
      this.boundary.push([[es, h.boundary_length], [es, finite(h.boundary_regions)]]);
    }
    if (repeat) {
      if (exact) this.regions.push([null, exact]);
      this._schedule();
      return;
    }
    this.loss.push([[step, positive(h.train_loss)], [step, positive(h.val_loss)]]);
    this.regions.push([[step, finite(h.regions)], exact]);
    if (this.accuracy && "val_accuracy" in h) this.accuracy.push([[step, finite(h.train_accuracy)], [step, finite(h.val_accuracy)]]);
    if (this.density && (finite(h.edge_density_near) !== null || finite(h.edge_density_far) !== null)) {
      this.density.push([[step, finite(h.edge_density_near)], [step, finite(h.edge_density_far)]]);
    }
    this._schedule();
  }

  clear() {
    this.lastStep = -1;
    this.lastExactStep = -1;
    this.lastBoundaryStep = -1;
    this.loss.clear();
    for (const chart of [this.accuracy, this.boundary]) if (chart) chart.clear();
    this.regions.clear();
    if (this.density) this.density.clear();
    this._schedule();
  }

  /** The loss axis says what the loss is; a classifier's charts, just shown, take their size. */
  setTask(task) {
    const title = task === "classify" ? "cross-entropy (log)" : "MSE (log)";
    this.loss.layout = { ...this.loss.layout, yaxis: { ...this.loss.layout.yaxis, title: { text: title } } };
    this.loss.needsRebuild = true;
    if (task === "classify" && window.Plotly) {
      for (const chart of [this.accuracy, this.boundary]) {
        if (chart && chart.ready) chart.ready.then(() => window.Plotly.Plots.resize(chart.div)).catch(() => {});
      }
    }
    this._schedule();
  }

  _schedule() {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => this._flush(), FLUSH_MS);
  }

  async _flush() {
    if (this.flushing) {
      this.timer = setTimeout(() => this._flush(), FLUSH_MS);
      return;
    }
    this.timer = null;
    this.flushing = true;
    try {
      await this.loss.flush();
      await this.regions.flush();
      if (this.density) await this.density.flush();
      for (const chart of [this.accuracy, this.boundary]) if (chart) await chart.flush();
    } catch (err) {
      console.warn("chart update failed:", err);
    } finally {
      this.flushing = false;
    }
  }
}
