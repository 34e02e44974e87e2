// Loss (log scale) and region-count charts over steps, drawn with plotly.js.
// Points are buffered and appended with Plotly.extendTraces a few times a
// second; long runs are thinned (every other point dropped) so the charts
// stay cheap however long training goes on.

const FLUSH_MS = 250;
const MAX_POINTS = 4000;

const FONT = { family: "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 12, color: "#374151" };
// Markers (at most a few dozen) so that a run's very first point is visible too.
const LINE = { type: "scatter", mode: "lines+markers" };
const MARKER = { size: 4, maxdisplayed: 30 };
const CONFIG = { displayModeBar: false, responsive: true, displaylogo: false };

function baseLayout(yTitle, logY) {
  return {
    margin: { l: 58, r: 12, t: 8, b: 40 },
    font: FONT,
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

class Series {
  constructor(names) {
    this.names = names;
    this.x = [];
    this.ys = names.map(() => []);
    this.pendingX = [];
    this.pendingYs = names.map(() => []);
  }

  push(x, values) {
    this.pendingX.push(x);
    values.forEach((v, i) => this.pendingYs[i].push(v));
  }

  clear() {
    this.x = [];
    this.ys = this.names.map(() => []);
    this.pendingX = [];
    this.pendingYs = this.names.map(() => []);
  }

  /** Move pending points into the series; returns them, or null when there were none. */
  take() {
    if (this.pendingX.length === 0) return null;
    const out = { x: this.pendingX, ys: this.pendingYs };
    for (const v of this.pendingX) this.x.push(v);
    this.pendingYs.forEach((list, i) => {
      for (const v of list) this.ys[i].push(v);
    });
    this.pendingX = [];
    this.pendingYs = this.names.map(() => []);
    return out;
  }

  /** Keep every other point (always the last one); true when it thinned. */
  thin() {
    if (this.x.length <= MAX_POINTS) return false;
    const keep = (arr) => arr.filter((_, i) => i % 2 === 0 || i === arr.length - 1);
    this.x = keep(this.x);
    this.ys = this.ys.map(keep);
    return true;
  }
}

class Chart {
  constructor(div, traces, layout) {
    this.div = div;
    this.traces = traces;
    this.layout = layout;
    this.series = new Series(traces.map((t) => t.name));
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
    return this.traces.map((t, i) => ({ ...t, x: this.series.x.slice(), y: this.series.ys[i].slice() }));
  }

  push(x, values) {
    this.series.push(x, values);
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
      const idx = this.traces.map((_, i) => i);
      await window.Plotly.extendTraces(this.div, { x: idx.map(() => fresh.x), y: fresh.ys }, idx);
    }
  }
}

export class Charts {
  constructor(lossDiv, regionsDiv) {
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
      [{ name: "regions on the grid", ...LINE, line: { color: "#f97316", width: 2 }, marker: { ...MARKER, color: "#f97316" } }],
      baseLayout("regions", false),
    );
    this.lastStep = -1;
    this.timer = null;
    this.flushing = false;
  }

  /** One point per frame; a step lower than the last one means a new run (cleared). */
  add(step, trainLoss, valLoss, regions) {
    if (typeof step !== "number") return;
    if (step < this.lastStep) this.clear();
    if (step === this.lastStep) return;
    this.lastStep = step;
    this.loss.push(step, [positive(trainLoss), positive(valLoss)]);
    this.regions.push(step, [finite(regions)]);
    this._schedule();
  }

  clear() {
    this.lastStep = -1;
    this.loss.clear();
    this.regions.clear();
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
    } catch (err) {
      console.warn("chart update failed:", err);
    } finally {
      this.flushing = false;
    }
  }
}
