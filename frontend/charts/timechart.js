// The chart over t of a clip's run: the exact region count of the slice at 17 moments from t = -1
// to t = 1, for the network on screen (GET .../counts-over-t), with a marker at the t shown. It is
// fetched again when the step on screen changes, at most every few seconds while training runs.

import { fetchCountsOverT } from "../shared/api.js";
import { CHART_CONFIG, CHART_FONT } from "./charts.js";

const MOMENTS = 17;
const RUNNING_EVERY_MS = 4000; // while training runs, at most one count per this long
const PAUSED_DELAY_MS = 150;

export class TimeChart {
  /** div: the chart; readout: an element whose data-step says which step the chart is of. */
  constructor(div, readout) {
    this.div = div;
    this.readout = readout;
    this.token = null;
    this.step = null;
    this.t = 0;
    this.data = null;
    this.timer = 0;
    this.lastFetch = 0;
    this.loading = false;
    this.wanted = null;
  }

  /** A run on a clip (token), or none (null): nothing drawn. */
  setToken(token) {
    if (token === this.token) return;
    this.token = token;
    this.data = null;
    this.step = null;
    this._draw();
  }

  /** The step on screen changed (`running`: training goes on); `at` as for the geometry routes. */
  onStep(step, running, at) {
    if (!this.token || step === this.step) return;
    this.wanted = { step, at };
    clearTimeout(this.timer);
    const wait = running ? Math.max(PAUSED_DELAY_MS, RUNNING_EVERY_MS - (performance.now() - this.lastFetch)) : PAUSED_DELAY_MS;
    this.timer = setTimeout(() => this._load(), wait);
  }

  setTime(t) {
    this.t = t;
    if (this.data) this._draw();
  }

  async _load() {
    if (this.loading || !this.wanted || !this.token) return;
    const { step, at } = this.wanted;
    const token = this.token;
    this.wanted = null;
    this.loading = true;
    this.lastFetch = performance.now();
    try {
      const data = await fetchCountsOverT(token, MOMENTS, at);
      if (token !== this.token) return;
      this.data = data;
      this.step = step;
      this._draw();
    } catch (err) {
      console.warn("regions over t:", err.message);
    } finally {
      this.loading = false;
      if (this.wanted) this._load();
    }
  }

  _draw() {
    this.div.hidden = !this.token;
    this.readout.dataset.step = this.data ? String(this.data.step) : "";
    this.readout.dataset.counts = this.data ? this.data.counts.join(",") : "";
    this.readout.textContent = this.data
      ? `exact regions over t at step ${this.data.step}${this.data.complete ? "" : " (partial: " + this.data.reason + ")"}`
      : "";
    if (!this.data || !window.Plotly) return;
    const data = [
      { type: "scatter", mode: "lines+markers", x: this.data.t, y: this.data.counts, name: "exact regions",
        line: { color: "#2563eb" }, marker: { size: 4 } },
    ];
    const layout = {
      margin: { l: 52, r: 12, t: 6, b: 34 }, font: CHART_FONT, height: 150, showlegend: false,
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#ffffff",
      xaxis: { title: { text: "t" }, range: [-1.05, 1.05], gridcolor: "#eef0f3", zeroline: false },
      yaxis: { title: { text: "regions" }, gridcolor: "#eef0f3", rangemode: "tozero" },
      shapes: [{ type: "line", x0: this.t, x1: this.t, yref: "paper", y0: 0, y1: 1, line: { color: "#d97706", width: 2 } }],
      uirevision: "keep",
    };
    window.Plotly.react(this.div, data, layout, CHART_CONFIG).catch((err) => console.warn("regions over t:", err.message));
  }
}
