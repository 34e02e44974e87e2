// Wiring: the server's settings (GET /api/options) ↔ state ↔ URL ↔ controls;
// the run control (runcontrol.js) ↔ the websocket; who draws (rendermode.js): the
// page from the weights (gpupanels.js, with timeline and zoom) or the server's
// pictures; panels, charts, readouts and feedback. Protocol: docs/protocol.md.
// Longer than the other modules because it is the one switchboard where they meet: it routes
// events and messages between them and decides nothing itself (the run control, the renderer
// choice, the settings table and the timeline each live in their own module).

import { fetchOptions, fetchSamples, sessionUrl, uploadImage } from "./api.js";
import { Baseline } from "./baseline.js";
import { Charts } from "./charts.js";
import { ClassList } from "./classes.js";
import { DynamicsCharts } from "./dynamicscharts.js";
import { Experiments } from "./experiments.js";
import { Connection, websocketUrl } from "./connection.js";
import { Controls } from "./controls.js";
import { ErrorBanner, Notice } from "./feedback.js";
import { Gallery, wireUpload } from "./gallery.js";
import { NetworkDiagram } from "./diagram.js";
import { ServerWeights } from "./diagramfeed.js";
import { DiagramLine } from "./neuronline.js";
import { Geometry } from "./geometry.js";
import { GpuPanels } from "./gpupanels.js";
import { ClipTime } from "./cliptime.js";
import { TimeChart } from "./timechart.js";
import { Inspector } from "./inspector.js";
import { SettingsSheet } from "./layout.js";
import { LossGuard } from "./lossguard.js";
import { Overlay } from "./overlay.js";
import { Panels } from "./panels.js";
import { Readouts } from "./readouts.js";
import { chooseRender, forcedRender, probeGL } from "./rendermode.js";
import { RunControl, pillState, wantsToRun } from "./runcontrol.js";
import { OptionsError, Settings } from "./state.js";
import { Timeline } from "./timeline.js";
import { ZoomControl, describeBox, isSquare } from "./viewbox.js";

const CONFIGURE_DEBOUNCE_MS = 300;
const SET_DEBOUNCE_MS = 150;
const OPTIONS_TIMEOUT_MS = 4000;
const MAX_FPS = 60; // updates asked of the server: the display rate (a weights update costs it ~1 ms)
const ZOOM_SETTLE_MS = 250; // exact geometry for a new view box once the zooming pauses

// Why a new network was started, per network setting (others: "<name> changed").
const REASONS = {
  image: "new picture",
  color: "colour changed",
  layers: "layers changed",
  activation: "activation changed",
  negative_slope: "leaky slope changed",
  train_points: "training points changed",
  val_points: "validation points changed",
  seed: "seed changed",
  task: "task changed",
  label_noise: "label noise changed",
};
const MAX_CLASSES = 8; // core/classes.py PALETTE: a classifier has at most this many outputs

const PILL_WORDS = {
  offline: "Offline",
  starting: "Starting…",
  refused: "Refused",
  paused: "Paused",
  running: "Training",
  diverged: "Diverged",
};

// A status's state, as an event of the run control ("idle" only comes before any network).
const SERVER_EVENTS = { paused: "serverPaused", running: "serverRunning", diverged: "serverDiverged" };

const $ = (id) => document.getElementById(id);

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms))]);
}

/** Whether a key typed at `el` is text (a field, a list, editable content), not a command. */
function typesText(el) {
  if (!el || !el.closest) return false;
  if (el.closest("textarea, select, [contenteditable=''], [contenteditable='true']")) return true;
  const NOT_TEXT = ["checkbox", "radio", "range", "button", "submit", "reset", "file", "color", "image"];
  return el.tagName === "INPUT" && !NOT_TEXT.includes(el.type);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class App {
  constructor() {
    this.settings = null; // the server's settings table (state.js), once /api/options answered
    this.state = null;
    this.controls = null;
    this.run = new RunControl({ onChange: () => this.showRun() });
    this.token = null;
    this.configureTimer = null;
    this.pendingReasons = new Set();
    this.setTimer = null;
    this.pendingSet = {};
    this.pendingNotice = null; // shown when the network being configured is built
    this.commandSeq = 0;
    this.errorSeq = -1;
    this.samplesLoaded = false;
    this.runImage = null; // {id, url} of the picture the server's run uses
    this.runLayers = null; // the layer string of the network on screen
    this.runConfig = null; // the config of the network the server runs (last status)
    this.forced = forcedRender(location.search); // ?render=client|server
    this.gl = null; // what this browser's WebGL2 is (probeGL), once the page starts
    this.choice = null; // {mode, label, reason}: who draws (rendermode.js)
    this.renderSent = null; // the render mode the server was last told
    this.gpu = null; // GpuPanels, once the page draws
    this.gpuFailed = null; // why the page's renderer cannot be used, when it failed
    this.wasReplay = false;
    this.zoomTimer = null;

    this.sheet = new SettingsSheet({ body: document.body, toggle: $("settings-toggle"), close: $("settings-close"), sheet: $("settings") });
    this.banner = new ErrorBanner($("error-bar"), $("error-banner"));
    this.notice = new Notice($("restart-notice"));
    this.lossGuard = new LossGuard({
      onChange: (message) => (message ? this.banner.set("exploding", message) : this.banner.clear("exploding")),
    });
    this.readouts = new Readouts();
    this.panels = new Panels({
      partition: $("panel-partition"),
      prediction: $("panel-prediction"),
      target: $("panel-target"),
    });
    this.charts = new Charts($("loss-chart"), $("regions-chart"), $("density-chart"),
      { accuracy: $("accuracy-chart"), boundary: $("boundary-chart") });
    this.classList = new ClassList({ box: $("classes-box"), list: $("classes-list"), note: $("classes-note") });
    this.runTask = null; // the task of the network on screen ("regress" | "classify")
    this.dynamics = new DynamicsCharts({ churn: $("churn-chart"), births: $("births-chart"), dead: $("dead-chart"), deadSource: $("dead-source") });
    this.baseline = new Baseline({ sigma: $("baseline-sigma"), button: $("baseline-show"), result: $("baseline-result"), image: $("baseline-image") });
    this.experiments = new Experiments({ select: $("experiment-select"), note: $("experiment-note") }, { onLoad: (patch) => this.update(patch) });
    this.overlay = new Overlay($("partition-overlay"), $("panel-partition"));
    this.zoom = new ZoomControl($("panel-partition"), { onChange: (box) => this.onZoom(box) });
    this.timeline = new Timeline(
      { bar: $("timeline-bar"), slider: $("timeline"), play: $("timeline-play"), speed: $("timeline-speed"),
        live: $("timeline-live"), readout: $("timeline-step"), note: $("timeline-note") },
      { onShow: (net, replay) => this.showNet(net, replay) },
    );
    this.clip = new ClipTime(
      { bar: $("clip-bar"), slider: $("time-slider"), play: $("time-play"), readout: $("time-readout") },
      { onTime: (t) => this.update({ t }) },
    );
    this.timeChart = new TimeChart($("time-chart"), $("time-chart-note"));
    const geometryError = (message) => this.banner.set("geometry", message);
    const at = () => this.at();
    this.inspector = new Inspector({
      canvas: $("panel-partition"), overlay: this.overlay, root: $("inspector"), onError: geometryError, at, busy: () => this.zoom.busy,
    });
    this.geometry = new Geometry({ overlay: this.overlay, at });
    this.diagramLine = new DiagramLine({ overlay: this.overlay, at, onError: geometryError });
    this.diagram = new NetworkDiagram($("network-diagram"), $("diagram-summary"), {
      onHover: (node) => this.diagramLine.hover(node),
      onPin: (node) => this.diagramLine.pin(node),
    });
    this.serverWeights = new ServerWeights({ onNet: (net) => this.diagram.setNet(net), at, onError: (m) => this.diagram.say(m) });
    this.gallery = new Gallery($("gallery"), { onSelect: (id) => this.selectImage(id) });
    this.connection = new Connection(websocketUrl("/ws"), {
      onOpen: (isReconnect) => this.onOpen(isReconnect),
      onClose: () => this.onClose(),
      onMessage: (msg) => this.onMessage(msg),
      onFrame: (frame) => this.onFrame(frame),
      onStateChange: (state) => this.showConnection(state),
    });
  }

  async start() {
    this.showRun();
    this.settings = await this.loadOptions();
    // The address is only rewritten now: a link opened while the server is away keeps its settings.
    this.state = this.settings.fromQuery(location.search);
    this.writeUrl();
    this.showPointColors(this.settings.pointColors);
    this.controls = new Controls(document, this.settings, { onChange: (patch) => this.update(patch) });
    this.controls.render(this.state);
    this.classList.setVisible(this.state.task === "classify");
    $("step-n-input").max = String(this.settings.limits.max_step_n);
    this.panels.setOptions({ fillRegions: this.state.fill_regions, boundaries: this.state.boundaries });
    this.gallery.setSelected(this.state.image);
    this.wireInputs();
    this.experiments.fetch().catch((err) => console.warn(err.message));
    this.loadSamples();
    this.gl = probeGL();
    this.chooseRenderer(this.netOf(this.state));
    this.connection.connect();
  }

  /** The server's settings and limits. Without them the page cannot be set up: it says so and retries. */
  async loadOptions() {
    for (let attempt = 0; ; attempt++) {
      try {
        const settings = new Settings(await withTimeout(fetchOptions(), OPTIONS_TIMEOUT_MS));
        this.banner.clear("connection");
        return settings;
      } catch (err) {
        const words = err instanceof OptionsError ? `The server's answer could not be read (${err.message})` : "Cannot reach the server";
        this.banner.set("connection", `${words} — retrying…`);
        await sleep(Math.min(5000, 300 * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  /** Train/validation point colours are the server's, for the legend as for the dots drawn. */
  showPointColors(colors) {
    this.panels.setPointColors(colors);
    for (const [name, color] of Object.entries(colors)) document.documentElement.style.setProperty(`--${name}`, color);
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

    const kinds = new Set(changed.map((name) => this.settings.kindOf(name)));
    for (const name of changed) {
      const kind = this.settings.kindOf(name);
      if (kind === "network") this.pendingReasons.add(REASONS[name] || `${name} changed`);
      if (kind === "training") this.pendingSet[name] = this.state[name];
    }
    if (kinds.has("network")) {
      clearTimeout(this.configureTimer);
      this.configureTimer = setTimeout(() => this.flushConfigure(), CONFIGURE_DEBOUNCE_MS);
    }
    // A coming configure carries new training values itself.
    if (kinds.has("training") && this.configureTimer === null) {
      clearTimeout(this.setTimer);
      this.setTimer = setTimeout(() => this.flushSet(), SET_DEBOUNCE_MS);
    }
    if (kinds.has("view")) {
      this.panels.setOptions({ fillRegions: this.state.fill_regions, boundaries: this.state.boundaries });
      this.sendView();
      this.dispatch("viewChanged");
    }
    if (changed.includes("t")) this.showMoment();
    if (changed.includes("image")) this.gallery.setSelected(this.state.image);
    if (changed.includes("task")) this.classList.setVisible(this.state.task === "classify");
    if (changed.includes("color") && this.panels.targetUrl) this.panels.setTarget(this.panels.targetUrl, this.state.color);
  }

  writeUrl() {
    let query = this.settings.toQuery(this.state);
    if (this.forced) query += `&render=${this.forced}`; // a forced renderer stays in a shared link
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

  // -- the run control and its commands --------------------------------------------

  /** Feed `event` to the run control and send what it asks for. */
  dispatch(event, detail = {}) {
    for (const command of this.run.dispatch(event)) this.execute(command, detail);
  }

  execute(command, { notice = null, n = 1 }) {
    switch (command) {
      case "configure":
        this.sendConfigure(notice);
        break;
      case "set": {
        const fields = this.pendingSet;
        this.pendingSet = {};
        if (Object.keys(fields).length) this.send({ type: "set", ...fields });
        break;
      }
      case "step":
        this.send({ type: "step", n });
        break;
      case "reset":
        if (this.send({ type: "reset" })) {
          this.charts.clear();
          this.dynamics.clear();
          this.lossGuard.reset();
        }
        break;
      default: // start, pause
        this.send({ type: command });
    }
  }

  send(message) {
    const sent = this.connection.send(message);
    if (sent) this.commandSeq += 1;
    return sent;
  }

  /** The whole configuration goes out: pending network and training edits go with it. */
  sendConfigure(notice) {
    clearTimeout(this.configureTimer);
    this.configureTimer = null;
    this.pendingReasons.clear();
    clearTimeout(this.setTimer);
    this.setTimer = null;
    this.pendingSet = {};
    // Who draws the new network: server frames are asked for before it is built, weights
    // after, so that its updates never come in a form the page cannot draw.
    // (A layer string the server will refuse changes nothing: the old network stays on screen.)
    const before = this.renderSent;
    const net = this.netOf(this.state);
    const mode = net.widths && net.widths.every((w) => w >= 1) ? this.chooseRenderer(net) : before;
    if (mode !== before && mode === "server") this.sendView();
    if (!this.send({ type: "configure", config: this.settings.runConfig(this.state) })) return;
    if (mode !== before && mode === "client") this.sendView();
    this.pendingNotice = notice;
    this.charts.clear();
    this.dynamics.clear();
  }

  sendView() {
    const render = this.choice ? this.choice.mode : "server";
    const sent = this.send({
      type: "view",
      visible: document.visibilityState !== "hidden",
      fill_regions: this.state.fill_regions,
      boundaries: this.state.boundaries,
      resolution: this.state.resolution,
      render,
      max_fps: MAX_FPS,
      t: this.state.t,
    });
    if (sent) this.renderSent = render;
  }

  // -- who draws: the page (weights, timeline, zoom) or the server (pictures) ---------------

  /** {widths, outDim} of a config (the page's state or the server's run). */
  netOf(config) {
    // A classifier has one output per class of its picture: at most MAX_CLASSES before it is built.
    const outDim = config.task === "classify" ? MAX_CLASSES : config.color ? 3 : 1;
    return { widths: this.settings.widths(config.layers), outDim };
  }

  /** Decide who draws `net` and set the page up for it; returns the mode. */
  chooseRenderer(net) {
    let choice = chooseRender({ forced: this.forced, gl: this.gl, net });
    if (choice.mode === "client" && !this.gpu) {
      try {
        if (this.gpuFailed) throw new Error(this.gpuFailed);
        this.gpu = new GpuPanels({ onLost: () => this.gpuLost() });
        this.gpu.setTime(this.clip.isClip ? this.state.t : 0);
        this.gpu.setView(this.zoom.box);
      } catch (err) {
        this.gpuFailed = err.message;
        choice = { mode: "server", label: "server", reason: `the page's renderer could not start (${err.message})` };
      }
    }
    const changed = !this.choice || this.choice.mode !== choice.mode;
    this.choice = choice;
    const el = $("renderer");
    el.dataset.mode = choice.mode;
    el.textContent = choice.mode === "client" ? `Drawn by ${choice.label}` : "Drawn by the server";
    el.title = choice.reason;
    if (changed) {
      const client = choice.mode === "client";
      $("panels").dataset.render = choice.mode;
      this.zoom.setEnabled(client); // server pictures show the square only
      this.timeline.setEnabled(client, client ? "" : `Replay and zoom need the page's own renderer (WebGL2): ${choice.reason}.`);
      if (!client) {
        this.showReplay(null);
        this.wasReplay = false;
      }
    }
    return choice.mode;
  }

  /** After the server's network is known: draw it the way that suits it. */
  syncRenderer() {
    if (!this.runConfig || this.run.state === "configuring" || this.run.state === "configuringToRun") return;
    const mode = this.chooseRenderer(this.netOf(this.runConfig));
    if (mode !== this.renderSent) this.sendView();
  }

  gpuLost() {
    this.gpu = null;
    this.gpuFailed = "the GPU context was lost";
    this.chooseRenderer(this.netOf(this.runConfig || this.state));
    this.sendView();
  }

  /** What the panels show, for the exact-geometry routes: a replayed step, a zoomed box. */
  at() {
    return {
      step: this.timeline.replaying ? this.timeline.replayStep : null,
      box: isSquare(this.zoom.box) ? null : this.zoom.box,
      t: this.clip.isClip ? this.state.t : null,
    };
  }

  /** The timeline put `net` on screen (the newest, or a replayed step). */
  showNet(net, replay) {
    this.gpu.setNet(net);
    this.panels.setPainter(this.gpu);
    this.panels.repaint();
    this.showReplay(replay ? net.step : null);
    const chosen = replay || this.wasReplay; // the person moved the timeline: answer at once
    this.wasReplay = replay;
    this.inspector.onStep(net.step, chosen);
    this.diagram.setNet(net, this.clip.isClip ? this.state.t : 0);
    this.diagramLine.refresh();
    if (chosen) this.geometry.refresh();
    if (replay && this.clip.isClip) this.timeChart.onStep(net.step, false, this.at());
  }

  /** The moment t of a clip changed (slider, play, a link): the target frame and its points, and the
   *  page's renderer at the new t; server frames follow from the `view` message. */
  showMoment() {
    this.clip.setTime(this.state.t);
    this.timeChart.setTime(this.state.t);
    if (this.clip.isClip) this.panels.setTarget(this.clip.targetUrl(), this.panels.targetColor);
    this.panels.setPoints(this.clip.pointsNow());
    if (this.gpu) {
      this.gpu.setTime(this.clip.isClip ? this.state.t : 0);
      this.panels.repaint();
    }
    this.diagram.setTime(this.clip.isClip ? this.state.t : 0);
    this.diagramLine.refresh();
    this.geometry.refresh();
  }

  /** The panels say when they show a past step (null: live). */
  showReplay(step) {
    const badge = $("replay-badge");
    badge.hidden = step === null;
    badge.textContent = step === null ? "" : `replay · step ${step}`;
    $("panels").dataset.replay = String(step !== null);
  }

  onZoom(box) {
    if (this.gpu) {
      this.gpu.setView(box);
      this.panels.repaint();
    }
    this.overlay.setView(box);
    $("zoom-box").textContent = describeBox(box);
    $("zoom-bar").hidden = isSquare(box);
    clearTimeout(this.zoomTimer);
    this.zoomTimer = setTimeout(() => {
      this.inspector.refresh();
      this.geometry.refresh();
      this.diagramLine.refresh();
    }, ZOOM_SETTLE_MS);
  }

  /** A debounced network edit, now (before a button acts on the settings shown). */
  flushConfigure() {
    if (this.configureTimer === null) return;
    clearTimeout(this.configureTimer);
    this.configureTimer = null;
    const reasons = [...this.pendingReasons];
    this.pendingReasons.clear();
    this.dispatch("networkChanged", { notice: `New network — restarted${reasons.length ? ` (${reasons.join(", ")})` : ""}` });
  }

  flushSet() {
    clearTimeout(this.setTimer);
    this.setTimer = null;
    if (Object.keys(this.pendingSet).length) this.dispatch("trainingChanged");
    this.pendingSet = {}; // not connected: the configure on connecting carries them
  }

  startTraining() {
    this.flushConfigure();
    this.flushSet();
    this.dispatch("userStart");
  }

  pauseTraining() {
    this.dispatch("userPause");
  }

  stepTraining() {
    this.flushConfigure();
    this.flushSet();
    const input = $("step-n-input");
    let n = Math.round(Number(input.value));
    if (!Number.isFinite(n) || n < 1) n = 1;
    n = Math.min(this.settings.limits.max_step_n, n);
    input.value = String(n);
    this.dispatch("userStep", { n });
  }

  resetTraining() {
    this.flushConfigure();
    this.dispatch("userReset");
  }

  /** Every person's input: only once the settings are known. */
  wireInputs() {
    $("start-button").addEventListener("click", () => this.startTraining());
    $("pause-button").addEventListener("click", () => this.pauseTraining());
    $("step-button").addEventListener("click", () => this.stepTraining());
    $("reset-button").addEventListener("click", () => this.resetTraining());
    $("zoom-reset").addEventListener("click", () => this.zoom.reset());
    for (const id of ["download-frame", "download-movie", "download-checkpoint", "download-config"]) {
      $(id).addEventListener("click", (event) => {
        if (!this.token) event.preventDefault();
      });
    }
    wireUpload({
      input: $("upload-input"),
      dropTargets: [$("drop-zone"), $("target-box")],
      onFile: (file) => this.upload(file),
    });
    // Space starts and stops training from anywhere but a text field: a focused button,
    // thumbnail or checkbox does not take the key (it would press or untick itself).
    const isSpace = (event) => event.code === "Space" || event.key === " ";
    document.addEventListener("keydown", (event) => {
      if (!isSpace(event) || event.ctrlKey || event.metaKey || event.altKey || typesText(event.target)) return;
      event.preventDefault();
      if (event.repeat) return;
      if (wantsToRun(this.run.state)) this.pauseTraining();
      else this.startTraining();
    }, true);
    document.addEventListener("keyup", (event) => {
      if (isSpace(event) && !typesText(event.target)) event.preventDefault(); // a button clicks on key-up
    }, true);
    document.addEventListener("visibilitychange", () => this.sendView());
    window.addEventListener("online", () => this.connection.retryNow());
  }

  // -- connection -----------------------------------------------------------------

  showConnection(state) {
    const el = $("connection-status");
    el.dataset.state = state;
    el.textContent = { open: "Connected", connecting: "Connecting…", reconnecting: "Reconnecting…" }[state] || state;
  }

  onOpen(isReconnect) {
    this.banner.clear("connection");
    this.loadSamples();
    this.sendView();
    const notice = isReconnect ? "Reconnected — the previous run was lost, so a new network was started" : null;
    this.dispatch("connected", { notice });
  }

  onClose() {
    this.dispatch("disconnected");
    this.setToken(null);
    this.banner.set(
      "connection",
      this.connection.everOpened ? "Connection lost — reconnecting…" : "Cannot reach the server — retrying…",
    );
  }

  onMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "status") this.onStatus(msg);
    else if (msg.type === "error") this.onError(msg);
    else if (msg.type === "points") this.onPoints(msg);
  }

  /** Points come once per network the server built: the configure was accepted. */
  onPoints(msg) {
    this.clip.setPoints(msg);
    this.classList.setClasses(msg.classes || null);
    this.controls.setClassCount(Array.isArray(msg.classes) ? msg.classes.length : null);
    this.inspector.setClassNames(Array.isArray(msg.classes) ? msg.classes.map((c) => c.name) : []);
    this.panels.setPoints(this.clip.pointsNow());
    this.lossGuard.reset();
    this.dispatch("built");
    this.syncRenderer();
    this.banner.clearPrefix("field:");
    this.controls.markInvalid(null);
    if (this.pendingNotice) this.notice.show(this.pendingNotice);
    this.pendingNotice = null;
  }

  onStatus(msg) {
    // The first status of a connection has a token but no network yet (config null).
    const hasRun = msg.config !== null && msg.config !== undefined;
    this.setToken(hasRun && typeof msg.token === "string" && msg.token ? msg.token : null);
    if (hasRun) {
      this.runConfig = msg.config;
      this.showRunConfig(msg.config, msg.image_url);
      this.showTask(msg.config.task === "classify" ? "classify" : "regress");
    }
    if (hasRun && this.clip.setRun(msg)) this.showMoment();
    this.timeChart.setToken(hasRun && this.clip.isClip ? this.token : null);
    if (hasRun) $("download-clip").hidden = !this.clip.isClip;
    if (typeof msg.image_url === "string") {
      const color = hasRun && typeof msg.config.color === "boolean" ? msg.config.color : this.state.color;
      this.panels.setTarget(this.clip.targetUrl(msg.image_url), color);
    }
    if (SERVER_EVENTS[msg.state]) this.dispatch(SERVER_EVENTS[msg.state]);
    if (hasRun) this.syncRenderer();
    this.readouts.setStep(msg.step);
    this.readouts.setRunning(this.run.state === "running");
    $("run-state").title = msg.message || "";

    if (msg.state === "diverged") {
      this.banner.set("diverged", msg.message || "Training diverged — lower the learning rate, then press Train to continue.");
    } else {
      this.banner.clear("diverged");
      // A command after the last error went through: that error is resolved (a refusal only by a new network).
      if (hasRun && this.commandSeq > this.errorSeq && this.run.state !== "refused") {
        this.banner.clear("server");
        this.banner.clearPrefix("field:");
        this.controls.markInvalid(null);
      }
    }
  }

  showRunConfig(config, imageUrl) {
    if (config.layers !== this.runLayers) {
      this.runLayers = config.layers;
      this.inspector.clear(); // a new architecture: the inspected neurons no longer exist
      this.serverWeights.reset();
      this.diagramLine.pin(null);
      this.geometry.setWidths(this.settings.widths(config.layers) || []);
    }
    // A picture named in the URL that is not a sample (an earlier upload): list it once the server knows it.
    if (typeof config.image === "string") {
      this.runImage = { id: config.image, url: imageUrl || `/api/images/${encodeURIComponent(config.image)}` };
      this.listRunImage();
    }
  }

  /** The readouts and charts of the network's task: accuracy and the decision boundary for a classifier. */
  showTask(task) {
    if (task === this.runTask) return;
    this.runTask = task;
    const classify = task === "classify";
    for (const el of document.querySelectorAll(".classify-only")) el.hidden = !classify;
    for (const el of document.querySelectorAll(".regress-only")) el.hidden = classify; // e.g. the smoothing baseline: an MSE
    $("loss-hint").textContent = classify ? "softmax cross-entropy, log scale" : "mean squared error, log scale";
    this.charts.setTask(task);
  }

  onError(msg) {
    const text = typeof msg.message === "string" && msg.message ? msg.message : "The server reported an error";
    const field = typeof msg.field === "string" ? msg.field : null;
    // The picture has no input of its own: a classifier's refusal of it is said under the classes.
    if (field === "image" && this.state.task === "classify") this.classList.setRefusal(text);
    const kind = field === null ? undefined : this.settings.kindOf(field);
    // One entry per setting, so "no network yet" after a refused configure does not hide why.
    this.banner.set(kind ? `field:${field}` : "server", text);
    this.errorSeq = this.commandSeq;
    if (!kind) return;
    this.controls.markInvalid(field, text);
    this.dispatch(kind === "view" ? "viewRefused" : "settingRefused");
    if (this.run.state === "refused") this.pendingNotice = null;
  }

  onFrame(frame) {
    const h = frame.header;
    if (!frame.net) {
      this.panels.setFrame(frame);
      this.inspector.onStep(h.step);
      this.serverWeights.onFrame(h.step); // the diagram's network: the weights are fetched
      this.diagramLine.refresh();
    } else if (this.choice.mode === "client" && this.gpu && this.gpu.fits(frame.net)) {
      this.timeline.add(frame.net); // kept; on screen unless an earlier step is replayed
    } // else: weights of a network handed over to server frames, on their way: nothing to draw
    this.charts.addFrame(h);
    this.dynamics.addFrame(h);
    this.inspector.setDead(h.dead_pattern);
    this.lossGuard.observe(h.train_loss, h.step, this.runConfig ? this.runConfig.lr : this.state.lr);
    this.geometry.onFrame(h);
    this.readouts.showFrame(h);
    if (this.clip.isClip && !this.timeline.replaying) this.timeChart.onStep(h.step, this.run.state === "running", this.at());
  }

  setToken(token) {
    this.token = token;
    this.baseline.setToken(token);
    this.inspector.setToken(token);
    this.geometry.setToken(token);
    this.diagramLine.setToken(token);
    this.serverWeights.setToken(token);
    this.banner.clear("geometry");
    const links = {
      "download-frame": "frame.png",
      "download-movie": "movie",
      "download-clip": "clip-movie",
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

  /** The run control's state on the page: the pill, Train or Pause, and who polls while training. */
  showRun() {
    const state = this.run.state;
    const pill = pillState(state);
    const el = $("run-state");
    el.textContent = PILL_WORDS[pill] || pill;
    el.dataset.state = pill;
    if (pill === "offline") el.title = "";
    const running = wantsToRun(state);
    $("start-button").hidden = running;
    $("pause-button").hidden = !running;
    this.inspector.setRunning(state === "running");
    this.geometry.setRunning(state === "running");
    if (pill !== "offline") this.readouts.setRunning(state === "running");
  }
}

const app = new App();
window.polytopeLens = app; // for debugging from the console (and the browser tests)
app.start();
