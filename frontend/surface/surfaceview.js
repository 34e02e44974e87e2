// The surface part: the network's output over the panels' box as a 3-D surface of flat facets,
// one per linear region (the exact polygon lifted by its own affine map), meeting at creases.
// Exact surfaces come from the server: pushed live while training runs (the `view` message's
// `surface: true`, sent while this panel is shown; the store's `surfaceShown`), fetched over REST
// for a paused, replayed or zoomed view. Between exact updates, and past the exact budget, the
// panel draws a grid-sampled surface from the weights and says so ("sampled: creases rounded").
// Clicking a facet inspects its region (the store's "inspectAt"); the inspected region comes back
// ("inspected") and is outlined in 3-D. A "Surface (OBJ)" download for the step on screen.

import { nearestFrame, sliceAt } from "../drawing/cliptime.js";
import { probeGL } from "../drawing/rendermode.js";
import { isSquare } from "../drawing/viewbox.js";
import { parseFrame } from "../live/connection.js";
import { clipFrameUrl, fetchSessionFile, fetchSurface, fetchWeights, surfaceParams } from "../shared/api.js";
import { exactMesh, heightOf, heightWeights, outputChoices, sampledMesh } from "./mesh.js";
import { loadTarget, pointCloud } from "./points.js";
import { evaluator, sampleSurface } from "./sampled.js";
import { BACKGROUND, SurfaceRenderer } from "./surfacegl.js";

const FRESH_MS = 2500; // while training runs, an exact surface this recent is shown rather than a sampled one
const SAMPLE_MS = 200; // a sampled surface is made at most this often
const WEIGHTS_MS = 500; // where the server draws, its weights are asked for at most this often
const FETCH_SETTLE_MS = 120; // a REST surface once the view stops changing
const BUSY_RETRY_MS = 2000; // a REST surface refused as busy (503) is asked again after this
const MIN_PANEL_PX = 360; // the surface is on at first where this much of it fits in the first screen
const CLICK_SLOP_PX = 4; // a pointer that moved less than this is a click, not a drag

const $ = (id) => document.getElementById(id);
const hexRgb = (hex) => [1, 3, 5].map((i) => parseInt(String(hex).slice(i, i + 2), 16) || 0);
const sameBox = (a, b) => ["x0", "x1", "y0", "y1"].every((k) => Math.abs(a[k] - b[k]) < 1e-9);

// ?surface=1|0 as the page was opened (read when this module loads, before the settings part
// rewrites the address with the settings alone).
const ASKED = new URLSearchParams(location.search).get("surface");

/** On at first: the address says so (?surface=1|0), else where it fits the first screen (below the
 *  panels and charts) and WebGL2 runs on a GPU (a software rasterizer's frames would slow the whole page: there
 *  it waits for the switch, as the page's own panel renderer does for ?render=client). */
function shownAtFirst(section) {
  if (ASKED === "1" || ASKED === "0") return ASKED === "1";
  const top = section.getBoundingClientRect().top + window.scrollY;
  return !probeGL().software && window.innerWidth >= 1100 && top + MIN_PANEL_PX <= window.innerHeight;
}

export class SurfaceView {
  constructor(store, els) {
    this.store = store;
    this.els = els;
    this.renderer = null;
    try {
      this.renderer = new SurfaceRenderer(els.canvas, { onDraw: (ms) => this._drawn(ms), antialias: !probeGL().software });
    } catch (err) {
      this.failed = err.message;
    }
    this.shown = false;
    this.token = null;
    this.task = "regress";
    this.outDim = 1;
    this.classes = []; // [{color, name}] of a classifier
    this.points = null; // the `points` message
    this.pixels = null; // the target picture (points.js loadTarget)
    this.targetUrl = null;
    this.frames = 1;
    this.net = null; // the network on screen, 2 inputs (a clip's sliced at t), for the sampled surface
    this.netFetch = { busy: false, at: 0 };
    this.stepShown = null;
    this.exact = null; // the last exact surface taken {surface, receivedAt}
    this.fetched = null; // key of the last REST surface asked for
    this.fetchTimer = null;
    this.shownKind = null; // "exact" | "sampled" | null
    this.sampledAt = 0;
    this.sampleCost = 0; // ms the last sampling took
    this.sampledKey = null;
    this.sampleTimer = null;
    this.note = "";
    this.inspected = null; // the inspector's region {polygon, gradient, c}
    this.stats = { updates: 0, lastLatencyMs: null, latencies: [], lastDrawMs: null, lastMeshMs: null };
    this.pendingLatency = null; // receivedAt of an exact surface on its way to the screen
    this.background = BACKGROUND.map((c) => Math.round(c * 255)); // what an empty canvas shows (tests)
  }

  // -- what is on screen -------------------------------------------------------------------
  /** {step, box, t, running, live}: what the panels show (running: training runs and the newest step
   *  is on screen; live: and the whole square, which is what the server pushes). */
  wanted() {
    const { replayStep, box, run } = this.store.values;
    const step = replayStep ?? this.stepShown;
    const running = run === "running" && replayStep === null;
    return { step, box, t: this.store.moment(), running, live: running && isSquare(box) };
  }

  get choice() {
    return this.els.output.value || (this.task === "classify" ? "winner" : this.outDim === 3 ? "luminance" : "channel:0");
  }

  get classColors() {
    return this.task === "classify" && this.classes.length ? this.classes.map((c) => hexRgb(c.color)) : null;
  }

  setShown(on) {
    this.shown = on && Boolean(this.renderer);
    this.els.panel.hidden = !this.shown;
    this.els.toggle.checked = this.shown;
    this.store.set({ surfaceShown: this.shown && document.visibilityState !== "hidden" });
    if (this.shown) {
      this.exact = null;
      this.fetched = null;
      this.update();
      this.renderer.request();
    }
  }

  setToken(token) {
    if (token === this.token) return;
    this.token = token;
    this.exact = null;
    this.fetched = null;
    this.inspected = null;
    this.renderer?.setOutline(null);
    this._download();
  }

  setRun(config, classes = null) {
    this.task = config.task === "classify" ? "classify" : "regress";
    if (classes) this.classes = classes;
    this.outDim = this.task === "classify" ? Math.max(2, this.classes.length) : config.color ? 3 : 1;
    const choices = outputChoices(this.task, this.outDim, this.classes.map((c) => c.name));
    const select = this.els.output;
    const before = select.value;
    if ([...select.options].map((o) => `${o.value}|${o.textContent}`).join() !== choices.map((c) => `${c.value}|${c.label}`).join()) {
      select.replaceChildren(...choices.map((c) => new Option(c.label, c.value)));
      if (choices.some((c) => c.value === before)) select.value = before;
    }
    select.disabled = choices.length < 2;
    this._download();
  }

  setPoints(msg) {
    this.points = msg;
    if (Array.isArray(msg.classes)) this.setRun({ task: "classify" }, msg.classes.map((c) => ({ color: c.color, name: c.name })));
    this._points();
  }

  /** The target picture on screen (a clip's frame nearest to t): read once per address. */
  async setTarget(url, frames) {
    this.frames = frames || 1;
    if (!url || url === this.targetUrl) return;
    this.targetUrl = url;
    const pixels = await loadTarget(url);
    if (url !== this.targetUrl) return;
    this.pixels = pixels;
    this._points();
  }

  /** The network on screen (client mode: the timeline's; server mode: fetched). */
  setNet(net) {
    this.net = sliceAt(net, this.store.moment());
    this.netSource = net;
    this.update();
  }

  setStep(step) {
    this.stepShown = step;
    this.update();
  }

  /** An exact surface arrived (pushed live, or answered over REST). */
  takeExact(surface, receivedAt = performance.now()) {
    this.exact = { surface, receivedAt };
    this.pendingLatency = receivedAt;
    this.update();
  }

  // -- choosing what to draw -----------------------------------------------------------------
  update() {
    if (!this.shown || !this.renderer) return;
    const w = this.wanted();
    const e = this.exact;
    const fits = e && sameBox(e.surface.box, w.box) && (e.surface.t === null || Math.abs(e.surface.t - w.t) < 1e-9);
    if (fits && (e.surface.step === w.step || (w.running && performance.now() - e.receivedAt < FRESH_MS))) {
      this._showExact(e);
      return;
    }
    this._showSampled(w);
    if (!w.live) this._askExact(w);
  }

  _showExact(e) {
    if (this.shownKind === "exact" && this.shownExact === e && this.shownChoice === this._look()) return;
    const started = performance.now();
    const mesh = exactMesh(e.surface, { choice: this.choice, colorMode: this.els.color.value, classColors: this.classColors });
    this.stats.lastMeshMs = performance.now() - started;
    this._setMesh(mesh);
    this.shownKind = "exact";
    this.shownExact = e;
    this.shownChoice = this._look();
    this.note = "";
    this._status();
  }

  /** The sampled surface of the network on screen (none yet where the server draws: asked for). */
  _showSampled(w) {
    const net = this.net;
    if (!net || (w.step !== null && net.step !== w.step)) this._askWeights(w);
    if (!net) {
      this._status();
      return;
    }
    const key = `${this.store.moment()}|${JSON.stringify(w.box)}|${this._look()}`;
    if (this.shownKind === "sampled" && net === this.sampledNet && key === this.sampledKey) return;
    // At most one sampling per SAMPLE_MS, and never more than a quarter of the page's time.
    const wait = this.sampledAt + Math.max(SAMPLE_MS, 3 * this.sampleCost) - performance.now();
    if (wait > 0 && this.shownKind === "sampled") {
      // While training runs a new network comes every frame: one sampling per SAMPLE_MS is plenty.
      clearTimeout(this.sampleTimer);
      this.sampleTimer = setTimeout(() => this.update(), wait);
      return;
    }
    const started = performance.now();
    const grid = sampleSurface(net, w.box, { classify: this.task === "classify" });
    this.sampledAt = performance.now();
    this.sampleCost = this.sampledAt - started;
    this.sampledKey = key;
    this.sampledNet = net;
    this._setMesh(sampledMesh(grid, { choice: this.choice, colorMode: this.els.color.value, classColors: this.classColors }));
    this.shownKind = "sampled";
    this._status();
  }

  /** The height range the vertical scale fits: a regression's [0, 1] at least (the targets'). */
  _setMesh(mesh) {
    const range = this.task === "classify" ? [mesh.zMin, mesh.zMax] : [Math.min(0, mesh.zMin), Math.max(1, mesh.zMax)];
    this.mesh = mesh;
    this.renderer.setMesh(mesh, range);
    this._points();
    this._outline();
  }

  _look() {
    return `${this.choice}|${this.els.color.value}`;
  }

  /** The exact surface of a paused, replayed or zoomed view, over REST: once per view, one request
   *  at a time (a zoomed view of a running network asks again once the last answer grew stale). */
  _askExact(w) {
    if (!this.token || this.fetching) return;
    const at = { step: this.store.get("replayStep"), box: isSquare(w.box) ? null : w.box, t: this.store.get("isClip") ? w.t : null };
    const key = JSON.stringify([this.token, at, w.running ? "running" : w.step]);
    if (key === this.fetched && !(w.running && this.exact && performance.now() - this.exact.receivedAt >= FRESH_MS)) return;
    clearTimeout(this.fetchTimer);
    this.fetchTimer = setTimeout(async () => {
      this.fetched = key;
      this.fetching = true;
      const token = this.token;
      try {
        const message = parseFrame(await fetchSurface(token, at));
        if (!message.surface) throw new Error("the server's answer is not a surface");
        if (token === this.token) this.takeExact(message.surface);
      } catch (err) {
        if (token === this.token) {
          this.note = err.detail || err.message;
          this._status();
          if (err.status === 503) {
            // Busy, not too large (every geometry worker at work): asked again in a moment.
            this.fetched = null;
            setTimeout(() => this.update(), BUSY_RETRY_MS);
          }
        }
      } finally {
        this.fetching = false;
      }
    }, FETCH_SETTLE_MS);
  }

  /** Where the server draws, the page has no weights: ask for those of the step on screen. */
  _askWeights(w) {
    if (!this.token || this.store.get("renderer")?.mode === "client") return;
    const now = performance.now();
    if (this.netFetch.busy || now - this.netFetch.at < WEIGHTS_MS) {
      clearTimeout(this.netFetch.timer);
      this.netFetch.timer = setTimeout(() => this.update(), WEIGHTS_MS);
      return;
    }
    this.netFetch = { busy: true, at: now };
    const token = this.token;
    const at = { step: this.store.get("replayStep"), t: this.store.get("isClip") ? w.t : null };
    fetchWeights(token, at).then((data) => {
      if (token !== this.token) return;
      // Already sliced at t by the server: two inputs.
      this.net = { step: data.step, widths: data.widths, outDim: data.out_dim, negativeSlope: data.negative_slope,
        weights: Float32Array.from(data.weights), inDim: 2 };
      this.update();
    }, (err) => {
      this.note = err.detail || err.message;
      this._status();
    }).finally(() => {
      this.netFetch.busy = false;
    });
  }

  // -- what goes with the surface -------------------------------------------------------------
  _points() {
    if (!this.renderer || !this.mesh) return;
    const weights = heightWeights(this.choice, this.outDim);
    let heightAt = null;
    if (this.task === "classify" && this.net) {
      const { evaluate } = evaluator(this.net);
      const out = new Float64Array(this.net.outDim);
      heightAt = (x, y) => {
        evaluate(x, y, out);
        return heightOf(out, weights);
      };
    }
    this.renderer.setPoints(pointCloud(this.points, { pixels: this.pixels, weights, box: this.mesh.box, t: this.store.moment(),
      frames: this.frames, classColors: this.classColors, heightAt }));
  }

  /** The inspector's region ({polygon, gradient, c}), outlined at its height. */
  setInspected(data) {
    this.inspected = data && Array.isArray(data.polygon) && data.polygon.length >= 3 ? data : null;
    this._outline();
  }

  _outline() {
    if (!this.renderer) return;
    const data = this.inspected;
    if (!data) {
      this.renderer.setOutline(null);
      return;
    }
    const weights = heightWeights(this.choice, data.c.length);
    const values = new Float64Array(data.c.length);
    const polygon = new Float32Array(3 * data.polygon.length);
    data.polygon.forEach(([x, y], i) => {
      for (let k = 0; k < data.c.length; k++) values[k] = data.gradient[k][0] * x + data.gradient[k][1] * y + data.c[k];
      polygon.set([x, y, heightOf(values, weights)], 3 * i);
    });
    this.renderer.setOutline(polygon);
    this.els.panel.dataset.outlined = String(data.polygon.length);
  }

  /** Clicked (not dragged) at canvas pixel (px, py): inspect the facet's region there. */
  click(px, py) {
    const hit = this.renderer?.pick(px, py);
    if (!hit) return;
    this.store.emit("inspectAt", [hit.x, hit.y]);
  }

  // -- words and files ------------------------------------------------------------------------
  _status() {
    const { status, panel } = this.els;
    const mesh = this.shownKind ? this.mesh : null;
    panel.dataset.kind = this.shownKind || "none";
    panel.dataset.step = mesh && mesh.step !== null && mesh.step !== undefined ? String(mesh.step) : "";
    if (!mesh) {
      status.textContent = this.failed ? `The surface needs WebGL2 (${this.failed}).` : this.note || "waiting for the network…";
      return;
    }
    if (this.shownKind === "exact") {
      status.textContent = `exact · step ${mesh.step} · ${mesh.facets.toLocaleString()} facets`;
    } else {
      status.textContent = `sampled: creases rounded · step ${mesh.step}${this.note ? ` · ${this.note}` : ""}`;
    }
    this._download();
  }

  _download() {
    this.els.download.disabled = !this.token;
  }

  /** The OBJ of the step, box, moment and output on screen, saved under the server's name. */
  async download() {
    const { download, downloadStatus } = this.els;
    if (!this.token) return;
    const at = this.store.at();
    download.disabled = true;
    downloadStatus.dataset.state = "loading";
    downloadStatus.textContent = "Computing the exact surface…";
    try {
      const file = await fetchSessionFile(this.token, "surface.obj", surfaceParams(at, this.choice), "Surface (OBJ)");
      const name = file.name || `polytope-lens-surface.obj`;
      const url = URL.createObjectURL(file.blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = name;
      a.className = "visually-hidden";
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30000);
      downloadStatus.dataset.state = "done";
      downloadStatus.textContent = `Saved ${name} (${(file.blob.size / 1024).toFixed(0)} KB).`;
    } catch (err) {
      downloadStatus.dataset.state = "error";
      downloadStatus.textContent = err.message;
    } finally {
      download.disabled = !this.token;
    }
  }

  /** A frame was drawn in `ms`; an exact update's time from its arrival to the screen is kept. */
  _drawn(ms) {
    this.stats.lastDrawMs = ms;
    if (this.pendingLatency !== null && this.shownKind === "exact") {
      const latency = performance.now() - this.pendingLatency;
      this.pendingLatency = null;
      this.stats.updates += 1;
      this.stats.lastLatencyMs = latency;
      this.stats.latencies.push(latency);
      if (this.stats.latencies.length > 200) this.stats.latencies.shift();
    }
  }
}

/** Drag rotates, wheel and pinch zoom, a click picks a facet. */
function bindCamera(view, canvas) {
  const pointers = new Map();
  let moved = 0, pinch = null;
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    moved = 0;
    pinch = null;
  });
  canvas.addEventListener("pointermove", (e) => {
    const last = pointers.get(e.pointerId);
    if (!last || !view.renderer) return;
    const dx = e.clientX - last.x, dy = e.clientY - last.y;
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    moved += Math.abs(dx) + Math.abs(dy);
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const d = Math.hypot(a.x - b.x, a.y - b.y);
      if (pinch) view.renderer.zoom(pinch / Math.max(d, 1));
      pinch = d;
    } else view.renderer.rotate(dx, dy);
  });
  const up = (e) => {
    if (!pointers.has(e.pointerId)) return;
    pointers.delete(e.pointerId);
    if (e.type === "pointerup" && pointers.size === 0 && moved < CLICK_SLOP_PX && !pinch) {
      const rect = canvas.getBoundingClientRect();
      view.click(e.clientX - rect.left, e.clientY - rect.top);
    }
  };
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    view.renderer?.zoom(Math.exp(Math.max(-1, Math.min(1, e.deltaY * 0.0015))));
  }, { passive: false });
}

export function mountSurface(store) {
  const els = {
    section: $("surface-section"), toggle: $("surface-toggle"), panel: $("surface-panel"), canvas: $("surface-canvas"),
    status: $("surface-status"), output: $("surface-output"), color: $("surface-color"), scale: $("surface-scale"),
    reset: $("surface-reset"), download: $("surface-download"), downloadStatus: $("surface-download-status"),
  };
  const view = new SurfaceView(store, els);
  if (!view.renderer) {
    els.toggle.disabled = true;
    els.toggle.title = `The 3-D surface needs WebGL2 (${view.failed})`;
  }
  bindCamera(view, els.canvas);
  els.toggle.addEventListener("change", () => {
    view.setShown(els.toggle.checked);
    if (view.shown) els.panel.scrollIntoView({ block: "nearest" }); // it opens below the charts
  });
  els.reset.addEventListener("click", () => view.renderer?.resetCamera());
  els.scale.addEventListener("input", () => view.renderer?.setVerticalScale(Number(els.scale.value)));
  for (const select of [els.output, els.color]) {
    select.addEventListener("change", () => {
      view.sampledKey = null;
      view.shownChoice = null;
      view.update();
      view._outline();
    });
  }
  els.download.addEventListener("click", () => view.download());
  if (view.renderer) {
    view.renderer.setVerticalScale(Number(els.scale.value));
    if (typeof ResizeObserver === "function") new ResizeObserver(() => view.renderer.request()).observe(els.canvas);
  }
  document.addEventListener("visibilitychange", () => store.set({ surfaceShown: view.shown && document.visibilityState !== "hidden" }));

  store.subscribe("token", (token) => view.setToken(token));
  store.on("status", (msg, hasRun) => {
    if (!hasRun) return;
    view.setToken(store.get("token"));
    view.setRun(msg.config);
    if (typeof msg.image_url === "string") view.imageUrl = msg.image_url;
    view.frames = Number.isInteger(msg.frames) && msg.frames > 0 ? msg.frames : 1;
    targetNow();
    if (store.get("renderer")?.mode !== "client" && Number.isInteger(msg.step)) view.setStep(msg.step);
  });
  store.on("points", (msg) => view.setPoints(msg));
  store.on("restarted", () => {
    view.exact = null;
    view.net = null;
  });
  store.on("surface", (surface, receivedAt) => view.takeExact(surface, receivedAt));
  store.on("frame", ({ header, net }) => {
    if (!net) view.setStep(header.step); // server pictures: the step they show
  });
  store.on("netShown", (net) => {
    view.stepShown = net.step;
    view.setNet(net);
  });
  store.on("moment", () => {
    targetNow();
    if (view.netSource && store.get("renderer")?.mode === "client") view.setNet(view.netSource);
    else {
      view.net = null; // the server's weights are sliced at t: ask again
      view.update();
    }
  });
  store.on("inspected", (data) => view.setInspected(data));
  for (const key of ["replayStep", "box", "run"]) store.subscribe(key, () => view.update());

  /** The target picture at the moment on screen (a clip's nearest frame). */
  function targetNow() {
    if (!view.imageUrl) return;
    const frames = view.frames;
    const url = frames > 1 ? clipFrameUrl(view.imageUrl, nearestFrame(store.moment(), frames)) : view.imageUrl;
    view.setTarget(url, frames);
  }

  view.setShown(view.renderer ? shownAtFirst(els.section) : false);
  return { surface: view };
}
