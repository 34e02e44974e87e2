// The compare page (/compare, `polytope-lens serve --runs DIR`): 2–4 runs of a sweep side by
// side, each drawn by the page's WebGL2 renderer from its weight history, all at one step
// (play, pause, scrub), their validation loss, exact region count and region churn overlaid on
// shared axes, and the sweep's table, sortable by any column. Routes: docs/protocol.md "Runs".

import { CHART_CONFIG, CHART_FONT } from "../charts/charts.js";
import { fetchRunJson, fetchRunWeights, fetchRuns } from "../shared/api.js";
import { classColorsOf } from "../live/connection.js";
import { MLPRenderer } from "../drawing/renderer.js";

const MAX_RUNS = 4;
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea"];
const FIRST_SIDE = 320; // device pixels of a run's panel until its box is measured (then: its device-pixel size)
const num = (digits) => (v) => (typeof v === "number" && Number.isFinite(v) ? v.toPrecision(digits) : "—");
const int = (v) => (typeof v === "number" ? String(v) : "—");

// The table: [key, label, value of an entry, text of the value]
const COLUMNS = [
  ["id", "run", (r) => r.id, String],
  ["layers", "layers", (r) => r.config.layers, String],
  ["seed", "seed", (r) => r.config.seed, int],
  ["optimizer", "optimiser", (r) => r.config.optimizer, String],
  ["lr", "lr", (r) => r.config.lr, (v) => String(v)],
  ["activation", "activation", (r) => r.config.activation, String],
  ["status", "status", (r) => r.status, String],
  ["train_loss", "train loss", (r) => r.summary?.train_loss, num(3)],
  ["val_loss", "val loss", (r) => r.summary?.val_loss, num(3)],
  ["regions", "grid regions", (r) => r.summary?.regions, int],
  ["exact_regions", "exact regions", (r) => r.summary?.exact_regions, int],
  ["train_s", "train s", (r) => r.summary?.train_s, num(3)],
  ["wall_s", "wall s", (r) => r.summary?.wall_s, num(3)],
];

const $ = (id) => document.getElementById(id);
const state = { runs: [], selected: [], sort: { key: "id", dir: "asc" }, shown: [], steps: [], index: 0, timer: 0, fill: false };

function showError(message) {
  const bar = $("compare-error");
  bar.textContent = message;
  bar.hidden = !message;
}

// -- one run: its weight history and curves ---------------------------------------------------
class RunReplay {
  static async load(entry) {
    const [meta, metrics, churn, buffer] = await Promise.all([
      fetchRunJson(entry.id, "weights"),
      fetchRunJson(entry.id, "metrics"),
      fetchRunJson(entry.id, "churn"),
      fetchRunWeights(entry.id),
    ]);
    return new RunReplay(entry, meta, new Float32Array(buffer), metrics.records, churn);
  }

  constructor(entry, meta, weights, records, churn) {
    this.entry = entry;
    this.meta = meta;
    this.params = meta.bytes_per_step / 4;
    this.steps = meta.steps.slice(0, Math.floor(weights.length / this.params));
    this.weights = weights;
    this.records = records;
    this.churn = churn;
  }

  /** The recorded step shown at `step`: the last one at or before it (the first before the run starts). */
  indexAt(step) {
    let lo = 0, hi = this.steps.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.steps[mid] <= step) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  netAt(step) {
    const i = this.indexAt(step);
    return {
      step: this.steps[i],
      widths: this.meta.widths,
      outDim: this.meta.out_dim,
      negativeSlope: this.meta.negative_slope,
      slopes: this.meta.slopes ?? null, // one per hidden layer (a network opened from a file may mix them)
      weights: this.weights.subarray(i * this.params, (i + 1) * this.params),
      classColors: classColorsOf(this.meta, this.meta.out_dim), // a classifier's: drawn as its class map
    };
  }

  recordAt(step) {
    let found = this.records[0];
    for (const r of this.records) if (r.step <= step) found = r;
    return found;
  }
}

// -- one panel: a run drawn at a step ----------------------------------------------------------
class RunPanel {
  constructor(replay, slot) {
    this.replay = replay;
    this.element = document.createElement("article");
    this.element.className = "card compare-run";
    this.element.dataset.testid = "compare-run";
    this.element.dataset.id = replay.entry.id;
    const title = document.createElement("h3");
    const swatch = document.createElement("span");
    swatch.className = `swatch swatch-${slot}`;
    title.append(swatch, replay.entry.id);
    this.explain = document.createElement("p");
    this.explain.className = "hint compare-explain";
    this.explain.dataset.testid = `compare-explain-${slot}`;
    this.canvas = document.createElement("canvas");
    this.canvas.width = this.canvas.height = FIRST_SIDE;
    this.canvas.dataset.testid = `compare-canvas-${slot}`;
    this.readout = document.createElement("div");
    this.readout.className = "compare-readout";
    this.readout.dataset.testid = `compare-readout-${slot}`;
    this.element.append(title, this.explain, this.canvas, this.readout);
    // The renderer draws on a canvas of its own; each draw is copied onto the visible 2-D canvas.
    this.renderer = new MLPRenderer(document.createElement("canvas"), { manual: true });
    this.renderer.resize(FIRST_SIDE, FIRST_SIDE);
    const fit = this.renderer.fits({ widths: replay.meta.widths, outDim: replay.meta.out_dim });
    this.reason = fit.ok ? null : fit.reason;
    this.drawn = null; // [step, fill, side] on the canvas
    this.last = null; // [step, fill] asked for last, redrawn when the panel's size changes
    // Drawn at the panel's device-pixel size, whatever size the grid gives it (no staircase).
    this.observer = new ResizeObserver(() => this._fit());
  }

  /** Start following the panel's size (once it is in the page). */
  follow() {
    this.observer.observe(this.canvas);
    this._fit();
  }

  _fit() {
    const side = Math.max(1, Math.round(this.canvas.clientWidth * (window.devicePixelRatio || 1)));
    if (!this.canvas.clientWidth || side === this.canvas.width) return;
    this.canvas.width = this.canvas.height = side;
    this.renderer.resize(side, side);
    if (this.last) this.draw(...this.last);
  }

  /** What the panel shows, in words: the renderer's partition panel (renderer.js) of this run. */
  describe(step, fill) {
    const classes = this.replay.netAt(step).classColors;
    const base = classes
      ? "the class that wins at every point, region boundaries gray, the decision boundary black"
      : fill
        ? "every linear region in its own colour, its boundaries drawn"
        : "the network's output (black…white) with its linear regions' boundaries (orange)";
    return `Partition over the square [−1, 1]²: ${base}, at the step shown.`;
  }

  draw(step, fill) {
    this.last = [step, fill];
    this.explain.textContent = this.describe(step, fill);
    const net = this.replay.netAt(step);
    const record = this.replay.recordAt(step);
    this.readout.textContent = `step ${net.step} · val ${num(3)(record?.val_loss)} · ${int(record?.exact_regions ?? record?.regions)} regions`;
    if (this.reason) {
      this.readout.textContent += ` · not drawn: ${this.reason}`;
      return;
    }
    const side = this.canvas.width;
    if (this.drawn && this.drawn[0] === net.step && this.drawn[1] === fill && this.drawn[2] === side) return;
    this.renderer.setWeights(net);
    if (!this.renderer.render({ panel: "partition", fillRegions: fill, boundaries: true })) return;
    const ctx = this.canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.renderer.canvas, 0, 0); // same task as the draw: the GL buffer is intact
    this.drawn = [net.step, fill, side];
    this.canvas.dataset.step = String(net.step);
  }

  dispose() {
    this.observer.disconnect();
    this.renderer.dispose();
    this.element.remove();
  }
}

// -- the shared step: timeline, play/pause -----------------------------------------------------
function currentStep() {
  return state.steps[state.index] ?? 0;
}

function showStep() {
  const step = currentStep();
  $("compare-scrub").value = String(state.index);
  const last = state.steps[state.steps.length - 1] ?? 0;
  $("compare-step").textContent = `step ${step} of ${last}`;
  $("compare-step").dataset.step = String(step);
  for (const panel of state.shown) panel.draw(step, state.fill);
  markCharts(step);
}

// Play-back runs in training steps per second (issue 28): the clock says which training step is
// due, and the panels show the last recorded step at or before it.
function play() {
  if (state.timer) return;
  if (state.index >= state.steps.length - 1) state.index = 0;
  const rate = Number($("compare-speed").value);
  const from = currentStep();
  const t0 = performance.now();
  const tick = (now) => {
    const due = from + (rate * (now - t0)) / 1000;
    let i = state.index;
    while (i < state.steps.length - 1 && state.steps[i + 1] <= due) i += 1;
    if (i !== state.index) {
      state.index = i;
      showStep();
    }
    if (state.index >= state.steps.length - 1) return pause();
    state.timer = requestAnimationFrame(tick);
  };
  state.timer = requestAnimationFrame(tick);
  $("compare-play").textContent = "Pause";
  $("compare-play").dataset.playing = "true";
}

/** How often the runs shown were recorded, in words beside the speed. */
function describeRecording() {
  const gaps = state.steps.slice(1).map((s, i) => s - state.steps[i]);
  const every = gaps.length ? Math.min(...gaps) : null;
  $("compare-speed-note").textContent = every ? `training steps per second; a snapshot every ${every.toLocaleString("en")} steps` : "";
}

function pause() {
  cancelAnimationFrame(state.timer);
  state.timer = 0;
  $("compare-play").textContent = "Play";
  $("compare-play").dataset.playing = "false";
}

// -- overlaid charts ---------------------------------------------------------------------------
const CHARTS = [
  ["chart-loss", "validation MSE", true, (run) => [run.records.map((r) => r.step), run.records.map((r) => (r.val_loss > 0 ? r.val_loss : null))]],
  ["chart-regions", "exact regions", false, (run) => [run.records.map((r) => r.step), run.records.map((r) => r.exact_regions ?? r.regions ?? null)]],
  ["chart-churn", "churn", false, (run) => [run.churn.steps, run.churn.churn]],
];

function drawCharts(replays) {
  if (!window.Plotly) return;
  for (const [id, title, logY, series] of CHARTS) {
    const traces = replays.map((run, i) => {
      const [x, y] = series(run);
      return { type: "scatter", mode: "lines+markers", name: run.entry.id, x, y, line: { color: COLORS[i], width: 2 }, marker: { size: 3 } };
    });
    const layout = {
      margin: { l: 58, r: 12, t: 8, b: 40 },
      font: CHART_FONT,
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "#ffffff",
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      xaxis: { title: { text: "step" }, gridcolor: "#eef0f3", zeroline: false, rangemode: "tozero" },
      yaxis: { title: { text: title }, type: logY ? "log" : "linear", gridcolor: "#eef0f3", exponentformat: "power", rangemode: logY ? undefined : "tozero" },
      shapes: [],
      hovermode: "x unified",
    };
    window.Plotly.react($(id), traces, layout, CHART_CONFIG);
    $(id).dataset.traces = String(traces.length);
  }
}

let markFrame = 0;
function markCharts(step) {
  if (!window.Plotly || markFrame) return;
  markFrame = requestAnimationFrame(() => {
    markFrame = 0;
    const line = { type: "line", xref: "x", yref: "paper", x0: currentStep(), x1: currentStep(), y0: 0, y1: 1, line: { color: "#6b7280", width: 1, dash: "dot" } };
    for (const [id] of CHARTS) if ($(id).data) window.Plotly.relayout($(id), { shapes: [line] });
  });
  void step;
}

// -- the sweep table ---------------------------------------------------------------------------
function sortedRuns() {
  const column = COLUMNS.find(([key]) => key === state.sort.key);
  const sign = state.sort.dir === "asc" ? 1 : -1;
  return [...state.runs].sort((a, b) => {
    const x = column[2](a), y = column[2](b);
    if (x == null || y == null) return x == null ? (y == null ? 0 : 1) : -1; // no value: last either way
    return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true })) * sign;
  });
}

function drawTable() {
  const head = $("sweep-table").tHead;
  head.replaceChildren();
  const row = head.insertRow();
  row.appendChild(document.createElement("th")).textContent = "compare";
  for (const [key, label] of COLUMNS) {
    const th = document.createElement("th");
    th.textContent = label;
    th.dataset.key = key;
    th.dataset.testid = `sort-${key}`;
    if (state.sort.key === key) th.dataset.sort = state.sort.dir;
    th.addEventListener("click", () => {
      state.sort = { key, dir: state.sort.key === key && state.sort.dir === "asc" ? "desc" : "asc" };
      drawTable();
    });
    row.appendChild(th);
  }
  const body = $("sweep-table").tBodies[0];
  body.replaceChildren();
  for (const run of sortedRuns()) {
    const tr = body.insertRow();
    tr.dataset.testid = "sweep-row";
    tr.dataset.id = run.id;
    if (run.status === "failed") {
      tr.className = "failed";
      tr.title = run.error || "failed";
    }
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = state.selected.includes(run.id);
    box.disabled = run.status !== "done" || (!box.checked && state.selected.length >= MAX_RUNS);
    box.setAttribute("aria-label", `compare ${run.id}`);
    box.addEventListener("change", () => {
      state.selected = box.checked ? [...state.selected, run.id] : state.selected.filter((id) => id !== run.id);
      drawTable();
      showRuns().catch((err) => showError(err.message));
    });
    tr.insertCell().appendChild(box);
    for (const [, , value, text] of COLUMNS) tr.insertCell().textContent = text(value(run));
  }
}

// -- choosing and loading runs -----------------------------------------------------------------
function defaultSelection() {
  // one run per architecture first (the post compares shapes), then more runs up to two
  const done = state.runs.filter((r) => r.status === "done");
  const picked = [];
  for (const run of done) if (picked.length < MAX_RUNS && !picked.some((p) => p.config.layers === run.config.layers)) picked.push(run);
  for (const run of done) if (picked.length < 2 && !picked.includes(run)) picked.push(run);
  return picked.map((r) => r.id);
}

let loading = 0;
async function showRuns() {
  const ticket = ++loading;
  const url = new URL(location.href);
  url.searchParams.set("runs", state.selected.join(","));
  history.replaceState(null, "", url);
  const entries = state.selected.map((id) => state.runs.find((r) => r.id === id)).filter(Boolean);
  const replays = await Promise.all(entries.map((e) => RunReplay.load(e)));
  if (ticket !== loading) return; // a newer selection won
  pause();
  for (const panel of state.shown) panel.dispose();
  const atStep = currentStep();
  state.shown = replays.map((replay, slot) => new RunPanel(replay, slot));
  $("compare-panels").replaceChildren(...state.shown.map((p) => p.element));
  for (const panel of state.shown) panel.follow();
  state.steps = [...new Set(replays.flatMap((r) => r.steps))].sort((a, b) => a - b);
  describeRecording();
  const scrub = $("compare-scrub");
  scrub.max = String(Math.max(0, state.steps.length - 1));
  const keep = state.steps.findIndex((s) => s >= atStep);
  state.index = keep < 0 ? state.steps.length - 1 : keep;
  drawCharts(replays);
  showStep();
  $("compare-panels").dataset.ready = state.selected.join(",");
}

async function start() {
  if (!MLPRenderer.supported()) {
    showError("This browser has no WebGL2: the compare view draws every run with it.");
    return;
  }
  const listing = await fetchRuns();
  state.runs = listing.runs;
  $("sweep-name").textContent = `${listing.folder}: ${listing.runs.length} runs`;
  const asked = (new URL(location.href).searchParams.get("runs") || "").split(",").filter(Boolean);
  state.selected = asked.filter((id) => state.runs.some((r) => r.id === id && r.status === "done")).slice(0, MAX_RUNS);
  if (!state.selected.length) state.selected = defaultSelection();
  drawTable();
  $("compare-scrub").addEventListener("input", () => {
    pause();
    state.index = Number($("compare-scrub").value);
    showStep();
  });
  $("compare-play").addEventListener("click", () => (state.timer ? pause() : play()));
  $("compare-speed").addEventListener("change", () => { if (state.timer) { pause(); play(); } });
  $("compare-fill").addEventListener("change", () => { state.fill = $("compare-fill").checked; showStep(); });
  await showRuns();
}

start().catch((err) => showError(err.message));
