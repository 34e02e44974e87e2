// Charts of how the partition moves (docs/protocol.md, "Dynamics header fields"): pattern churn
// (since the last update and since the start), region births and deaths, dead neurons per layer.
// Points at the step they were measured at (`measured_step`), like charts.js.

import { Chart, LINE, MARKER, baseLayout } from "./charts.js";

const FLUSH_MS = 250;
const LAYER_COLORS = ["#4f46e5", "#0d9488", "#db2777", "#f97316", "#65a30d", "#0891b2", "#a21caf", "#b45309"];

function num(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export class DynamicsCharts {
  constructor({ churn, births, dead, deadSource }) {
    this.churn = new Chart(churn, [
      { name: "since last update", ...LINE, line: { color: "#7c3aed", width: 2 }, marker: { ...MARKER, color: "#7c3aed" } },
      { name: "since the start", ...LINE, line: { color: "#64748b", width: 2, dash: "dot" }, marker: { ...MARKER, color: "#64748b" } },
    ], baseLayout("share of pixels", false));
    this.births = new Chart(births, [
      { name: "births", ...LINE, line: { color: "#16a34a", width: 2 }, marker: { ...MARKER, color: "#16a34a" } },
      { name: "deaths", ...LINE, line: { color: "#dc2626", width: 2, dash: "dot" }, marker: { ...MARKER, color: "#dc2626" } },
    ], baseLayout("regions", false));
    this.deadDiv = dead;
    this.deadSource = deadSource;
    this.dead = null; // built once the number of layers is known
    this.layers = 0;
    this.lastStep = -1;
    this.timer = null;
  }

  addFrame(h) {
    const step = typeof h.measured_step === "number" ? h.measured_step : h.step;
    if (typeof step !== "number") return;
    if (step < this.lastStep) this.clear();
    if (step === this.lastStep) return;
    this.lastStep = step;
    const churn = num(h.pattern_churn);
    const total = num(h.pattern_churn_total);
    this.churn.push([churn === null ? null : [step, churn], total === null ? null : [step, total]]);
    if (num(h.region_births) !== null) this.births.push([[step, h.region_births], [step, h.region_deaths]]);
    if (Array.isArray(h.dead_neurons)) {
      if (!this.dead || h.dead_neurons.length !== this.layers) this._buildDead(h.dead_neurons.length);
      this.dead.push(h.dead_neurons.map((n) => [step, n]));
      this.deadSource.textContent = h.dead_neurons_source === "exact"
        ? "off on every region of the exact partition, per layer"
        : "off on every pixel of the grid, per layer (the exact partition is not current: a region thinner than a pixel could be missed)";
    }
    this._schedule();
  }

  _buildDead(layers) {
    this.layers = layers;
    const traces = Array.from({ length: layers }, (_, i) => {
      const color = LAYER_COLORS[i % LAYER_COLORS.length];
      return { name: `layer ${i + 1}`, ...LINE, line: { color, width: 2 }, marker: { ...MARKER, color }, showlegend: layers <= 8 };
    });
    this.dead = new Chart(this.deadDiv, traces, baseLayout("dead neurons", false));
  }

  clear() {
    this.lastStep = -1;
    this.churn.clear();
    this.births.clear();
    if (this.dead) this.dead.clear();
    this._schedule();
  }

  _schedule() {
    if (this.timer !== null) return;
    this.timer = setTimeout(async () => {
      this.timer = null;
      try {
        await this.churn.flush();
        await this.births.flush();
        if (this.dead) await this.dead.flush();
      } catch (err) {
        console.warn("dynamics chart update failed:", err);
      }
    }, FLUSH_MS);
  }
}
