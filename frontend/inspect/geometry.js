// Exact geometry beside the live view: the exact region count readout, the
// layer-by-layer folding (slider k = 1..L and the per-layer count chart), and
// the SVG / JSON export of the exact partition, with a progress line for the
// computations that take a while. REST: /regions.json, /regions.svg,
// /layer-counts, /exact-progress (docs/protocol.md, "Exact geometry").

import { atParams, fetchExactProgress, fetchLayerCounts, fetchRegions, fetchSessionFile } from "../shared/api.js";
import { CHART_CONFIG, CHART_FONT } from "../charts/charts.js";

const FOLD_DEBOUNCE_MS = 150;
const FOLD_REFRESH_MS = 600; // while training runs, the first-k partition is fetched again this often
const PROGRESS_POLL_MS = 300;
const CHART_MIN_INTERVAL_MS = 500;
const MAX_LAYER_LABELS = 10; // tick labels on the layer chart's x axis

const $ = (id) => document.getElementById(id);

function count(v) {
  return typeof v === "number" && Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "—";
}

/** Run `promise` while polling the session's /exact-progress into `show(text)`. */
async function withProgress(token, promise, show, what) {
  let done = false;
  const started = performance.now();
  const poll = async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, PROGRESS_POLL_MS));
      if (done) break;
      let p = null;
      try {
        p = await fetchExactProgress(token);
      } catch (err) {
        p = null;
      }
      if (done) break;
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      if (p && p.active) {
        const pct = Math.round((p.fraction || 0) * 100);
        show(p.queued ? `${what}: waiting for another computation… ${secs} s` : `${what}… ${pct}% (${count(p.regions)} regions so far, ${secs} s)`);
      } else {
        show(`${what}… ${secs} s`);
      }
    }
  };
  show(`${what}…`);
  poll();
  try {
    return await promise;
  } finally {
    done = true;
  }
}

export class Geometry {
  /** at() -> {step (null: live), box (null: the square)}: what the panels show, for the routes. */
  constructor({ overlay, at = () => ({ step: null, box: null }) }) {
    this.overlay = overlay;
    this.at = at;
    this.token = null;
    this.widths = [];
    this.k = 0; // layers shown; L = all (the live view)
    this.counts = null; // per-layer exact counts {counts, step, complete}
    this.step = 0; // latest frame step
    this.running = false;
    this.gridRegions = null;
    this.gridStep = null; // the step the grid count was measured at
    this.live = null; // latest exact header fields
    this.onDemand = null; // {count, step} from "compute now"
    this.exactSeen = []; // [{step, regions}] of the exact counts the frames brought, for replay
    this.replay = null; // the step the timeline shows (null: live)
    this.foldSeq = 0;
    this.foldTimer = null;
    this.foldInFlight = false;
    this.foldStep = null;
    this.foldMs = 0; // how long the last first-k partition took to arrive
    this.chartAt = 0;
    this.chartTimer = null;

    this.slider = $("layer-slider");
    this.slider.addEventListener("input", () => this._sliderMoved());
    $("download-svg").addEventListener("click", () => this.exportFile("svg"));
    $("download-json").addEventListener("click", () => this.exportFile("json"));
    $("exact-compute").addEventListener("click", () => this.computeCounts());
    this._renderSlider();
    this._renderExact();
  }

  // -- inputs from the app ----------------------------------------------------------

  setToken(token) {
    if (token === this.token) return;
    this.token = token;
    this.onDemand = null;
    this.live = null;
    this.counts = null;
    this.exactSeen = [];
    this._stopFold();
    this._enableExports(Boolean(token));
    this._renderSlider();
    this._renderExact();
    this._renderChart(true);
  }

  /** The hidden widths of the run's network; a new architecture resets the slider. */
  setWidths(widths) {
    if (widths.join(",") === this.widths.join(",")) return;
    this.widths = widths;
    this.k = widths.length;
    this.counts = null;
    this._stopFold();
    this._renderSlider();
    this._renderChart(true);
  }

  setRunning(running) {
    this.running = running;
  }

  /** Every frame header: the step, the grid count and the exact fields. */
  onFrame(h) {
    const stepBack = typeof h.step === "number" && h.step < this.step;
    this.step = h.step;
    this.gridRegions = h.regions;
    this.gridStep = typeof h.measured_step === "number" ? h.measured_step : h.step;
    if (stepBack) this.onDemand = null; // a new initialisation
    if (h.exact_status === "exact" && typeof h.exact_regions === "number" && typeof h.exact_step === "number") {
      const seen = this.exactSeen;
      while (seen.length && seen[seen.length - 1].step >= h.exact_step) seen.pop(); // the same step, or a new initialisation
      seen.push({ step: h.exact_step, regions: h.exact_regions });
      if (seen.length > 8193) this.exactSeen = seen.filter((_, i) => i % 2 === 0); // thinned evenly, the newest (even index) kept
    }
    this.live = {
      status: h.exact_status,
      regions: h.exact_regions,
      step: h.exact_step,
      ms: h.exact_ms,
      progress: h.exact_progress,
    };
    if (Array.isArray(h.exact_layer_counts) && h.exact_status === "exact") {
      const fresh = !this.counts || this.counts.step !== h.exact_step;
      if (fresh) {
        this.counts = { counts: h.exact_layer_counts, step: h.exact_step, complete: true };
        this._renderChart();
      }
    } else if (typeof h.regions === "number" && !this._exactAt(this.widths.length)) {
      this._renderChart(); // no exact count of all the layers (too large live): the grid's stands in
    }
    if (this.k === this.widths.length) this._renderSlider(); // says when its count is of an earlier step
    this._renderExact();
    // Live, the first-k partition follows the run; a replayed step is fetched by refresh().
    const live = this.at().step === null;
    if (live && this.k < this.widths.length && !this.foldInFlight && this.foldStep !== h.step && this.foldTimer === null) {
      this.foldTimer = setTimeout(() => {
        this.foldTimer = null;
        this._loadFold();
      }, this.running ? Math.max(FOLD_REFRESH_MS, 3 * this.foldMs) : 0); // big partitions: refreshed less often
    }
  }

  // -- exact count readout --------------------------------------------------------------

  /** The timeline shows `step` (null: live): the exact count readout says that step's. */
  setReplay(step) {
    this.replay = typeof step === "number" ? step : null;
    this._renderExact();
  }

  /** While replaying: the last exact count the run had at or before the replayed step. */
  _renderReplayed() {
    const value = $("exact-count");
    const hint = $("exact-hint");
    $("exact-compute").hidden = true;
    let seen = null;
    for (const entry of this.exactSeen) if (entry.step <= this.replay) seen = entry;
    value.dataset.replay = "true";
    value.dataset.status = seen ? "exact" : "none";
    value.dataset.step = seen ? String(seen.step) : "";
    value.textContent = seen ? count(seen.regions) : "—";
    if (hint.dataset.busy) return;
    hint.textContent = !seen ? `no exact count was made at or before the replayed step ${this.replay}`
      : seen.step === this.replay ? `exact polygons in the square at the replayed step ${this.replay}`
        : `counted at step ${seen.step}, the last exact count before the replayed step ${this.replay}`;
  }

  _renderExact() {
    if (this.replay !== null) {
      this._renderReplayed();
      return;
    }
    delete $("exact-count").dataset.replay;
    const value = $("exact-count");
    const hint = $("exact-hint");
    const button = $("exact-compute");
    const live = this.live;
    let text = "—";
    let words = "exact polygons in the square: more than the grid count when regions are smaller than a pixel";
    let state = live ? live.status : "none";
    button.hidden = true;
    if (live && live.status === "exact" && typeof live.regions === "number") {
      text = count(live.regions);
      const sameStep = live.step === this.step && live.step === this.gridStep;
      const missed = typeof this.gridRegions === "number" ? live.regions - this.gridRegions : null;
      if (!sameStep) words = `at step ${live.step} (counted in the background while training runs)`;
      else if (missed > 0) words = `${count(missed)} more than the grid sees: regions smaller (or thinner) than a pixel`;
      else if (missed === 0) words = "the grid sees every region at this resolution";
      else words = "exact polygons in the square";
    } else if (live && live.status === "too large for live view") {
      if (this.onDemand && this.onDemand.count !== null) {
        text = count(this.onDemand.count);
        words = `computed on demand at step ${this.onDemand.step}; too large to keep exact live (the grid count stands in)`;
        state = "on demand";
      } else {
        text = "too large";
        words = "too large for the live view: the grid count stands in. Compute it on demand:";
      }
      button.hidden = false;
    } else if (live && live.status === "pending") {
      words = "computing the exact partition…";
    } else if (live && live.status === "counting") {
      text = "counting…";
      const done = typeof live.progress === "number" ? ` ${Math.round(100 * live.progress)}% done;` : "";
      words = `paused: counting the exact partition of step ${this.step} (longer than the live budget) —${done} the next command cancels it`;
    } else if (live && live.status === "unavailable") {
      text = "—";
      words = "the exact count is unavailable for this network";
    }
    value.textContent = text;
    value.dataset.status = state;
    value.dataset.step = live && live.step !== null && live.step !== undefined ? String(live.step) : "";
    if (!hint.dataset.busy) hint.textContent = words;
  }

  async computeCounts() {
    if (!this.token) return;
    const token = this.token;
    const hint = $("exact-hint");
    const button = $("exact-compute");
    button.disabled = true;
    hint.dataset.busy = "1";
    try {
      const data = await withProgress(token, fetchLayerCounts(token), (t) => { hint.textContent = t; }, "Counting exact regions");
      if (token !== this.token) return;
      this.counts = { counts: data.counts, step: data.step, complete: data.complete };
      this.onDemand = { count: data.complete ? data.counts[data.counts.length - 1] : null, step: data.step };
      this._renderChart(true);
      this._renderSlider();
      delete hint.dataset.busy;
      this._renderExact();
      if (!data.complete) hint.textContent = `too large even on demand: ${data.reason}; counts for the first ${data.counts.length} layers are in the chart`;
    } catch (err) {
      delete hint.dataset.busy;
      hint.textContent = err.message;
    } finally {
      delete hint.dataset.busy;
      button.disabled = false;
    }
  }

  /** The panels show another step (replay) or box (zoom): the first-k partition for it. */
  refresh() {
    if (!this.token || this.k >= this.widths.length) return;
    clearTimeout(this.foldTimer);
    this.foldTimer = setTimeout(() => {
      this.foldTimer = null;
      this._loadFold();
    }, FOLD_DEBOUNCE_MS);
  }

  // -- layer-by-layer folding ------------------------------------------------------------

  _sliderMoved() {
    const L = this.widths.length;
    this.k = Math.min(L, Math.max(1, Number(this.slider.value) || L));
    this._renderSlider();
    this._renderChart(true);
    clearTimeout(this.foldTimer);
    this.foldTimer = null;
    if (this.k >= L) {
      this._stopFold();
      return;
    }
    this.foldTimer = setTimeout(() => {
      this.foldTimer = null;
      this._loadFold();
    }, FOLD_DEBOUNCE_MS);
  }

  _stopFold() {
    this.foldSeq += 1;
    clearTimeout(this.foldTimer);
    this.foldTimer = null;
    this.foldInFlight = false;
    this.foldStep = null;
    this.overlay.setFolding(null);
    $("fold-badge").hidden = true;
    const status = $("layer-status");
    delete status.dataset.count;
  }

  async _loadFold() {
    const k = this.k;
    const token = this.token;
    if (!token || k >= this.widths.length) return;
    const seq = ++this.foldSeq;
    this.foldInFlight = true;
    const status = $("layer-status");
    status.dataset.state = "loading";
    const started = performance.now();
    try {
      const data = await withProgress(token, fetchRegions(token, k, this.at()), (t) => {
        if (seq === this.foldSeq && !status.dataset.count) status.textContent = t;
      }, `Computing the partition of the first ${k} layers`);
      if (seq !== this.foldSeq) return;
      this.foldMs = performance.now() - started;
      this.foldStep = data.step;
      this.overlay.setFolding({ polygons: data.polygons, colors: data.colors });
      const badge = $("fold-badge");
      badge.textContent = `first ${k} of ${this.widths.length} layers · ${count(data.region_count)} regions · step ${data.step}`;
      badge.hidden = false;
      status.dataset.state = "ready";
      status.dataset.k = String(k);
      status.dataset.count = String(data.region_count);
      status.dataset.step = String(data.step);
      status.textContent = `First ${k} of ${this.widths.length} hidden layers: ${count(data.region_count)} regions (exact, step ${data.step}). Each further layer folds and cuts these again.`;
    } catch (err) {
      if (seq !== this.foldSeq) return;
      this.foldStep = this.step; // do not retry until the network changes
      this.overlay.setFolding(null);
      $("fold-badge").hidden = true;
      status.dataset.state = "error";
      delete status.dataset.count;
      status.textContent = err.message;
    } finally {
      if (seq === this.foldSeq) this.foldInFlight = false;
    }
  }

  _renderSlider() {
    const L = this.widths.length;
    this.slider.min = "1";
    this.slider.max = String(Math.max(1, L));
    this.slider.value = String(this.k || L || 1);
    this.slider.disabled = L <= 1 || !this.token; // nothing to fold, or no network to ask
    $("layer-value").textContent = String(this.k || L || "—");
    $("layer-total").textContent = String(L || "—");
    const status = $("layer-status");
    if (this.k >= L) {
      status.dataset.state = "live";
      status.dataset.k = String(L);
      const n = this.counts && this.counts.counts.length === L ? this.counts.counts[L - 1] : null;
      if (n !== null) status.dataset.count = String(n);
      else delete status.dataset.count;
      // A count of an earlier step says so: the network on screen has moved on since.
      const stale = n !== null && this.counts.step !== this.step;
      status.dataset.stale = String(stale);
      const at = n === null ? "" : stale
        ? ` (${count(n)} exact regions counted at step ${this.counts.step}; the network is now at step ${this.step})`
        : ` (${count(n)} exact regions at step ${this.counts.step})`;
      status.textContent = `All ${L} hidden layers: the live view${at}. Slide left to see the partition of the first layers only.`;
    } else if (status.dataset.k !== String(this.k) || status.dataset.state === "live") {
      const n = this.counts && this.counts.counts.length >= this.k ? this.counts.counts[this.k - 1] : null;
      delete status.dataset.count;
      status.dataset.k = String(this.k);
      status.dataset.state = "loading";
      status.textContent = `First ${this.k} of ${L} hidden layers${n !== null ? `: ${count(n)} regions at step ${this.counts.step}` : ""} — loading the polygons…`;
    }
  }

  /** True when the exact count of the first k layers is known. */
  _exactAt(k) {
    return Boolean(this.counts && typeof this.counts.counts[k - 1] === "number");
  }

  _renderChart(now = false) {
    const div = $("layer-count-chart");
    if (!window.Plotly || !div) return;
    const wait = CHART_MIN_INTERVAL_MS - (performance.now() - this.chartAt);
    if (!now && wait > 0) {
      if (this.chartTimer === null) this.chartTimer = setTimeout(() => { this.chartTimer = null; this._renderChart(true); }, wait);
      return;
    }
    this.chartAt = performance.now();
    const L = this.widths.length;
    const counts = this.counts ? this.counts.counts : [];
    const x = Array.from({ length: L }, (_, i) => i + 1);
    const y = x.map((k) => (counts[k - 1] === undefined ? null : counts[k - 1]));
    const colors = x.map((k) => (k === this.k ? "#4f46e5" : "#c7cbf5"));
    // All the layers without an exact count (too large for the live view, e.g. one layer of 1,024):
    // the grid's count of the whole network stands in, in the grid's colour and said to be the grid's.
    const gridBar = !this._exactAt(L) && typeof this.gridRegions === "number" && L > 0;
    // deep networks: a tick every few layers and only the chosen k's count, so labels never overlap
    const every = Math.max(1, Math.ceil(L / MAX_LAYER_LABELS));
    const data = [{
      type: "bar", x, y, marker: { color: colors }, name: "exact regions",
      text: y.map((v, i) => (v === null || (every > 1 && i + 1 !== this.k) ? "" : count(v))),
      textposition: "outside", cliponaxis: false,
      hovertemplate: "first %{x} layers: %{y:,} regions<extra></extra>",
    }];
    if (gridBar) {
      data.push({
        type: "bar", x: [L], y: [this.gridRegions], marker: { color: "#f59e0b" }, name: "on the grid",
        text: [`${count(this.gridRegions)} on the grid`], textposition: "outside", cliponaxis: false,
        hovertemplate: "all %{x} layers: %{y:,} regions on the grid (the exact count is too large for the live view)<extra></extra>",
      });
    }
    const layout = {
      margin: { l: 52, r: 10, t: 18, b: 36 },
      font: CHART_FONT,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#ffffff",
      showlegend: false,
      xaxis: { title: { text: "hidden layers used (k)" }, tickmode: "linear", tick0: every, dtick: every, fixedrange: true },
      yaxis: { title: { text: "regions" }, type: "log", dtick: 1, gridcolor: "#eef0f3", fixedrange: true, exponentformat: "none", separatethousands: true },
      uirevision: "keep",
    };
    div.dataset.counts = JSON.stringify(y);
    div.dataset.grid = gridBar ? String(this.gridRegions) : "";
    window.Plotly.react(div, data, layout, CHART_CONFIG).catch((err) => console.warn("layer chart:", err));
  }

  // -- export -------------------------------------------------------------------------------

  _enableExports(on) {
    for (const id of ["download-svg", "download-json"]) $(id).disabled = !on;
  }

  async exportFile(kind) {
    if (!this.token) return;
    const token = this.token;
    const L = this.widths.length;
    const k = this.k && this.k < L ? this.k : null;
    const at = this.at();
    const step = at.step === null ? this.step : at.step;
    const status = $("export-status");
    const button = $(`download-${kind}`);
    button.disabled = true;
    status.dataset.state = "loading";
    try {
      const file = await withProgress(
        token,
        fetchSessionFile(token, `regions.${kind}`, { ...(k ? { layers: k } : {}), ...atParams(at) }, "Export"),
        (t) => { status.textContent = t; },
        `Computing the exact partition${k ? ` of the first ${k} layers` : ""}`,
      );
      const blob = file.blob;
      // The server's name (the one scheme of every download); a zoomed view says so.
      const served = file.name || `polytope-lens-step${step}-regions${k ? `-k${k}` : ""}.${kind}`;
      const name = at.box ? served.replace(/\.(json|svg)$/, "-zoomed.$1") : served;
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = name;
      a.className = "visually-hidden";
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30000);
      status.dataset.state = "done";
      status.textContent = `Saved ${name} (${(blob.size / 1024).toFixed(0)} KB).`;
    } catch (err) {
      status.dataset.state = "error";
      status.textContent = err.message;
    } finally {
      button.disabled = !this.token;
    }
  }
}
