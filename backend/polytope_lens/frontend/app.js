// Wiring: state <-> URL <-> controls, the websocket session, panels, charts,
// readouts and feedback. Protocol: docs/protocol.md.

import { fetchOptions, fetchSamples, sessionUrl, uploadImage } from "./api.js";
import { Charts } from "./charts.js";
import { Connection, websocketUrl } from "./connection.js";
import { Controls } from "./controls.js";
import { ErrorBanner, Notice } from "./feedback.js";
import { Gallery, wireUpload } from "./gallery.js";
import { Geometry } from "./geometry.js";
import { Inspector } from "./inspector.js";
import { Overlay } from "./overlay.js";
import { Panels } from "./panels.js";
import { defaultState, fromQuery, kindOf, runConfig, toQuery } from "./state.js";

const CONFIGURE_DEBOUNCE_MS = 300;
const SET_DEBOUNCE_MS = 150;
const MAX_FPS = 30;

const REASONS = {
  image: "new picture",
  color: "colour changed",
  layers: "layers changed",
  activation: "activation changed",
  negative_slope: "leaky slope changed",
  momentum: "momentum changed",
  batch_size: "batch size changed",
  train_points: "training points changed",
  val_points: "validation points changed",
  seed: "seed changed",
};

const STATE_WORDS = {
  starting: "Starting…",
  idle: "Idle",
  paused: "Paused",
  running: "Training",
  diverged: "Diverged",
  offline: "Offline",
};

const $ = (id) => document.getElementById(id);

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms))]);
}

function formatLoss(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  if (v === 0) return "0";
  if (Math.abs(v) >= 0.001 && Math.abs(v) < 1000) return v.toFixed(Math.abs(v) >= 1 ? 3 : 4);
  return v.toExponential(2);
}

function formatRate(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  return v >= 100 ? String(Math.round(v)) : v.toFixed(1);
}

function digits(v) {
  return typeof v === "number" && Number.isFinite(v) ? String(Math.max(0, Math.round(v))) : null;
}

class App {
  constructor() {
    this.state = null;
    this.runState = "offline";
    this.optimisticRunning = null; // true/false right after a click, until the server answers
    this.token = null;
    this.configured = false; // a status arrived for a configure on this connection
    this.configureInFlight = false;
    this.configError = false;
    this.configureTimer = null;
    this.pendingReasons = new Set();
    this.pendingNotice = null;
    this.setTimer = null;
    this.pendingSet = {};
    this.commandSeq = 0;
    this.errorSeq = -1;
    this.latestHeader = null;
    this.readoutRaf = false;
    this.wantRunning = false; // resume training once (re)connected and configured
    this.resumeAfterConfigure = false; // send start when the pending configure's status arrives
    this.configError = false; // the server refused the current config
    this.samplesLoaded = false;
    this.runImage = null; // {id, url} of the picture the server's run uses

    this.banner = new ErrorBanner($("error-bar"), $("error-banner"));
    this.notice = new Notice($("restart-notice"));
    this.panels = new Panels({
      partition: $("panel-partition"),
      prediction: $("panel-prediction"),
      target: $("panel-target"),
    });
    this.charts = new Charts($("loss-chart"), $("regions-chart"), $("density-chart"));
    this.overlay = new Overlay($("partition-overlay"), $("panel-partition"));
    const geometryError = (message) => this.banner.set("geometry", message);
    this.inspector = new Inspector({ canvas: $("panel-partition"), overlay: this.overlay, root: $("inspector"), onError: geometryError });
    this.geometry = new Geometry({ overlay: this.overlay });
    this.runLayers = null; // the layer string of the network on screen
    this.controls = new Controls(document, { onChange: (patch) => this.update(patch) });
    this.gallery = new Gallery($("gallery"), { onSelect: (id) => this.selectImage(id) });
    wireUpload({
      input: $("upload-input"),
      dropTargets: [$("drop-zone"), $("target-box")],
      onFile: (file) => this.upload(file),
    });
    this.connection = new Connection(websocketUrl("/ws"), {
      onOpen: (isReconnect) => this.onOpen(isReconnect),
      onClose: (wasOpen) => this.onClose(wasOpen),
      onMessage: (msg) => this.onMessage(msg),
      onFrame: (frame) => this.onFrame(frame),
      onStateChange: (state) => this.showConnection(state),
    });
    this.wireButtons();
    this.wireKeyboard();
    document.addEventListener("visibilitychange", () => this.sendView());
    window.addEventListener("online", () => this.connection.retryNow());
  }

  async start() {
    let serverDefaults = {};
    try {
      const options = await withTimeout(fetchOptions(), 4000);
      if (options && typeof options.defaults === "object" && options.defaults) serverDefaults = options.defaults;
    } catch (err) {
      // Server unreachable or slow: built-in defaults; the connection retries on its own.
    }
    this.state = fromQuery(location.search, defaultState(serverDefaults));
    this.writeUrl();
    this.controls.render(this.state);
    this.panels.setOptions({ fillRegions: this.state.fill_regions, boundaries: this.state.boundaries });
    this.gallery.setSelected(this.state.image);
    this.setRunButtons();
    this.loadSamples();
    this.connection.connect();
  }

  listRunImage() {
    const image = this.runImage;
    if (!image || !this.samplesLoaded || this.gallery.has(image.id)) return;
    this.gallery.addUpload(image.id, image.url);
    this.gallery.setSelected(this.state.image);
  }

  async loadSamples() {
    if (this.samplesLoaded) return;
    try {
      const samples = await fetchSamples();
      this.gallery.setSamples(Array.isArray(samples) ? samples : []);
      this.samplesLoaded = true;
    } catch (err) {
      console.warn("samples could not be loaded:", err.message);
    }
    this.listRunImage();
    this.gallery.setSelected(this.state.image);
  }

  // -- state ------------------------------------------------------------------

  update(patch) {
    const changed = Object.keys(patch).filter((k) => patch[k] !== this.state[k]);
    if (changed.length === 0) return;
    this.state = { ...this.state, ...patch };
    this.writeUrl();
    this.controls.render(this.state);

    const kinds = new Set(changed.map(kindOf));
    if (kinds.has("network")) {
      for (const name of changed) if (kindOf(name) === "network") this.pendingReasons.add(REASONS[name] || `${name} changed`);
      this.scheduleConfigure();
    }
    if (kinds.has("training")) {
      for (const name of changed) if (kindOf(name) === "training") this.pendingSet[name] = this.state[name];
      this.scheduleSet();
    }
    if (kinds.has("view")) {
      this.panels.setOptions({ fillRegions: this.state.fill_regions, boundaries: this.state.boundaries });
      this.sendView();
    }
    if (changed.includes("image")) this.gallery.setSelected(this.state.image);
    if (changed.includes("color") && this.panels.targetUrl) this.panels.setTarget(this.panels.targetUrl, this.state.color);
  }

  writeUrl() {
    const query = toQuery(this.state);
    if (query !== location.search) history.replaceState(null, "", query + location.hash);
  }

  selectImage(id) {
    this.banner.clear("upload");
    this.update({ image: id });
  }

  async upload(file) {
    this.banner.clear("upload");
    const zone = $("drop-zone");
    zone.classList.add("busy");
    try {
      const result = await uploadImage(file);
      const id = result.image_id;
      this.gallery.addUpload(id, result.url || `/api/images/${encodeURIComponent(id)}`, file.name || "Your picture");
      this.selectImage(id);
    } catch (err) {
      this.banner.set("upload", err.message || "Upload failed");
    } finally {
      zone.classList.remove("busy");
    }
  }

  // -- commands -----------------------------------------------------------------

  send(message) {
    const sent = this.connection.send(message);
    if (sent) this.commandSeq += 1;
    return sent;
  }

  get isRunning() {
    if (this.optimisticRunning !== null) return this.optimisticRunning;
    return this.runState === "running";
  }

  sendView() {
    this.send({
      type: "view",
      visible: document.visibilityState !== "hidden",
      fill_regions: Boolean(this.state && this.state.fill_regions),
      boundaries: Boolean(!this.state || this.state.boundaries),
      resolution: this.state ? this.state.resolution : undefined,
      max_fps: MAX_FPS,
    });
  }

  sendConfigure() {
    clearTimeout(this.configureTimer);
    this.configureTimer = null;
    clearTimeout(this.setTimer);
    this.setTimer = null;
    this.pendingSet = {};
    if (!this.send({ type: "configure", config: runConfig(this.state) })) return false;
    this.configureInFlight = true;
    this.configError = false;
    this.charts.clear();
    return true;
  }

  scheduleConfigure() {
    clearTimeout(this.configureTimer);
    this.configureTimer = setTimeout(() => this.flushConfigure(), CONFIGURE_DEBOUNCE_MS);
  }

  /** Send a pending (debounced) configure now; resumes training when it was running. */
  flushConfigure({ resume = true } = {}) {
    if (this.configureTimer === null) return;
    const wasRunning = this.isRunning;
    const reasons = [...this.pendingReasons];
    this.pendingReasons.clear();
    if (!this.sendConfigure()) {
      // Not connected: the configure goes out with the current state on (re)connect.
      clearTimeout(this.configureTimer);
      this.configureTimer = null;
      return;
    }
    this.pendingNotice = `New network — restarted${reasons.length ? ` (${reasons.join(", ")})` : ""}`;
    // Training resumes once the server has built the new network (not when it refused the config).
    this.resumeAfterConfigure = resume && wasRunning;
    this.optimisticRunning = this.resumeAfterConfigure;
    this.setRunButtons();
  }

  scheduleSet() {
    if (this.configureTimer !== null) return; // the coming configure carries the new values
    clearTimeout(this.setTimer);
    this.setTimer = setTimeout(() => {
      this.setTimer = null;
      const fields = this.pendingSet;
      this.pendingSet = {};
      if (!this.configured || Object.keys(fields).length === 0) return; // next configure carries them
      this.send({ type: "set", ...fields });
    }, SET_DEBOUNCE_MS);
  }

  /** True (and nothing is sent) while the server has rejected the current config. */
  blockedByConfigError() {
    if (!this.configError) return false;
    this.wantRunning = false;
    this.optimisticRunning = false;
    this.setRunButtons();
    return true;
  }

  startTraining() {
    this.flushConfigure({ resume: false });
    if (this.blockedByConfigError()) return;
    this.wantRunning = true;
    this.optimisticRunning = true;
    this.setRunButtons();
    if (!this.connection.isOpen) return; // sent once connected
    if (!this.configured && !this.configureInFlight) this.sendConfigure();
    this.flushSet();
    if (this.configureInFlight) {
      // Start once the new network exists (so a refused config does not train the old one).
      this.resumeAfterConfigure = true;
      return;
    }
    this.send({ type: "start" });
  }

  pauseTraining() {
    this.resumeAfterConfigure = false;
    this.wantRunning = false;
    this.optimisticRunning = false;
    this.setRunButtons();
    this.send({ type: "pause" });
  }

  flushSet() {
    if (this.setTimer === null) return;
    clearTimeout(this.setTimer);
    this.setTimer = null;
    const fields = this.pendingSet;
    this.pendingSet = {};
    if (this.configured && Object.keys(fields).length) this.send({ type: "set", ...fields });
  }

  stepTraining() {
    this.flushConfigure({ resume: false });
    this.resumeAfterConfigure = false;
    if (this.blockedByConfigError()) return;
    const input = $("step-n-input");
    let n = Math.round(Number(input.value));
    if (!Number.isFinite(n) || n < 1) n = 1;
    n = Math.min(100000, n);
    input.value = String(n);
    this.wantRunning = false;
    this.optimisticRunning = false;
    this.setRunButtons();
    if (!this.connection.isOpen) return;
    if (!this.configured && !this.configureInFlight) this.sendConfigure();
    this.flushSet();
    this.send({ type: "step", n });
  }

  resetTraining() {
    this.flushConfigure({ resume: false });
    this.resumeAfterConfigure = false;
    if (this.blockedByConfigError()) return;
    this.wantRunning = false;
    this.optimisticRunning = false;
    this.setRunButtons();
    if (!this.connection.isOpen) return;
    if (!this.configured && !this.configureInFlight) {
      this.sendConfigure();
      return;
    }
    if (this.send({ type: "reset" })) this.charts.clear();
  }

  wireButtons() {
    $("start-button").addEventListener("click", () => this.startTraining());
    $("pause-button").addEventListener("click", () => this.pauseTraining());
    $("step-button").addEventListener("click", () => this.stepTraining());
    $("reset-button").addEventListener("click", () => this.resetTraining());
    for (const id of ["download-frame", "download-movie", "download-checkpoint", "download-config"]) {
      $(id).addEventListener("click", (event) => {
        if (!this.token) event.preventDefault();
      });
    }
  }

  wireKeyboard() {
    document.addEventListener("keydown", (event) => {
      if (event.code !== "Space" && event.key !== " ") return;
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      const t = event.target;
      if (t && t.closest && t.closest("input, select, textarea, button, a, [contenteditable=''], [contenteditable='true']")) return;
      event.preventDefault();
      if (this.isRunning) this.pauseTraining();
      else this.startTraining();
    });
  }

  // -- connection -----------------------------------------------------------------

  showConnection(state) {
    const el = $("connection-status");
    el.dataset.state = state;
    el.textContent = { open: "Connected", connecting: "Connecting…", reconnecting: "Reconnecting…" }[state] || state;
  }

  onOpen(isReconnect) {
    this.banner.clear("connection");
    this.configured = false;
    this.configureInFlight = false;
    this.loadSamples();
    this.sendView();
    clearTimeout(this.configureTimer);
    this.configureTimer = null;
    this.pendingReasons.clear();
    this.sendConfigure();
    this.pendingNotice = isReconnect ? "Reconnected — the previous run was lost, so a new network was started" : null;
    this.resumeAfterConfigure = this.wantRunning;
    this.optimisticRunning = this.wantRunning ? true : null;
    this.setRunButtons();
  }

  onClose(wasOpen) {
    if (wasOpen) this.wantRunning = this.wantRunning || this.runState === "running";
    this.configured = false;
    this.configureInFlight = false;
    this.optimisticRunning = null;
    this.runState = "offline";
    this.setToken(null);
    this.setRunButtons();
    this.showRunState("offline", "");
    this.banner.set(
      "connection",
      this.connection.everOpened ? "Connection lost — reconnecting…" : "Cannot reach the server — retrying…",
    );
  }

  onMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    switch (msg.type) {
      case "status":
        this.onStatus(msg);
        break;
      case "error":
        this.onError(msg);
        break;
      case "points":
        this.panels.setPoints(msg);
        break;
      default:
        break;
    }
  }

  onStatus(msg) {
    this.runState = msg.state || "idle";
    // The first status of a connection has a token but no network yet (config null).
    const hasRun = msg.config !== null && msg.config !== undefined;
    let resumed = false;
    if (this.resumeAfterConfigure && hasRun && msg.state !== "running" && msg.state !== "diverged" && msg.step === 0) {
      this.resumeAfterConfigure = false;
      resumed = this.send({ type: "start" });
    }
    // Keep showing "running" while a resume is on its way; otherwise the server's word counts.
    this.optimisticRunning = this.resumeAfterConfigure || resumed ? true : null;
    if (hasRun) {
      this.configured = true;
      this.configureInFlight = false;
    }
    this.setToken(hasRun && typeof msg.token === "string" && msg.token ? msg.token : null);
    if (this.runState === "running") this.wantRunning = true;
    else if (this.runState === "diverged") this.wantRunning = false;
    this.inspector.setRunning(this.runState === "running");
    this.geometry.setRunning(this.runState === "running");
    if (hasRun && msg.config.layers !== this.runLayers) {
      this.runLayers = msg.config.layers;
      this.inspector.clear(); // a new architecture: the inspected neurons no longer exist
      this.geometry.setLayers(msg.config.layers);
    }

    // A picture named in the URL that is not a sample (an earlier upload): list it once the server knows it.
    if (hasRun && typeof msg.config.image === "string") {
      this.runImage = { id: msg.config.image, url: msg.image_url || `/api/images/${encodeURIComponent(msg.config.image)}` };
      this.listRunImage();
    }
    if (typeof msg.image_url === "string") {
      const color = msg.config && typeof msg.config.color === "boolean" ? msg.config.color : this.state.color;
      this.panels.setTarget(msg.image_url, color);
    }
    const step = digits(msg.step);
    if (step !== null) $("step-counter").textContent = step;
    if (this.runState !== "running") $("steps-per-s").textContent = "0";

    if (this.runState === "diverged") {
      this.banner.set("diverged", msg.message || "Training diverged — lower the learning rate, then press Train to continue.");
    } else {
      this.banner.clear("diverged");
      if (hasRun && this.commandSeq > this.errorSeq) {
        this.banner.clear("server");
        this.banner.clearPrefix("field:");
        this.controls.markInvalid(null);
        this.configError = false;
      }
    }
    if (this.pendingNotice && hasRun) {
      this.notice.show(this.pendingNotice);
      this.pendingNotice = null;
    }
    // A connection's first status comes before its network exists: say "Starting…", not "Idle".
    this.showRunState(!hasRun && this.runState === "idle" ? "starting" : this.runState, msg.message || "");
    this.setRunButtons();
  }

  showRunState(state, title) {
    const stateEl = $("run-state");
    stateEl.textContent = STATE_WORDS[state] || state;
    stateEl.dataset.state = state;
    stateEl.title = title;
  }

  onError(msg) {
    const text = typeof msg.message === "string" && msg.message ? msg.message : "The server reported an error";
    const field = typeof msg.field === "string" ? msg.field : null;
    const configField = field !== null && (kindOf(field) === "network" || kindOf(field) === "training");
    // One entry per config field, so "no network yet" after a bad configure does not hide why.
    this.banner.set(configField ? `field:${field}` : "server", text);
    this.errorSeq = this.commandSeq;
    this.pendingNotice = null;
    if (configField) {
      this.configError = true;
      this.resumeAfterConfigure = false;
      this.wantRunning = false;
      this.optimisticRunning = null;
      this.setRunButtons();
      this.configureInFlight = false;
      this.controls.markInvalid(field);
    }
  }

  onFrame(frame) {
    this.panels.setFrame(frame);
    const h = frame.header;
    this.charts.addFrame(h);
    this.geometry.onFrame(h);
    this.inspector.onStep(h.step);
    this.latestHeader = h;
    if (!this.readoutRaf) {
      this.readoutRaf = true;
      requestAnimationFrame(() => {
        this.readoutRaf = false;
        this.showReadouts(this.latestHeader);
      });
    }
  }

  showReadouts(h) {
    if (!h) return;
    const step = digits(h.step);
    if (step !== null) $("step-counter").textContent = step;
    if (this.runState === "running") $("steps-per-s").textContent = formatRate(h.steps_per_s);
    $("train-loss").textContent = formatLoss(h.train_loss);
    $("val-loss").textContent = formatLoss(h.val_loss);
    const regions = digits(h.regions);
    if (regions !== null) $("region-count").textContent = regions;
  }

  setToken(token) {
    this.token = token;
    this.inspector.setToken(token);
    this.geometry.setToken(token);
    this.banner.clear("geometry");
    const links = {
      "download-frame": "frame.png",
      "download-movie": "movie",
      "download-checkpoint": "checkpoint",
      "download-config": "config",
    };
    for (const [id, what] of Object.entries(links)) {
      const a = $(id);
      if (token) {
        a.href = sessionUrl(token, what);
        a.classList.remove("disabled");
        a.removeAttribute("aria-disabled");
      } else {
        a.removeAttribute("href");
        a.classList.add("disabled");
        a.setAttribute("aria-disabled", "true");
      }
    }
  }

  setRunButtons() {
    const running = this.isRunning;
    $("start-button").hidden = running;
    $("pause-button").hidden = !running;
    document.body.dataset.running = running ? "true" : "false";
  }
}

const app = new App();
window.polytopeLens = app; // for debugging from the console
app.start();
