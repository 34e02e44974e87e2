// The live run: the websocket (connection.js) and the run control (runcontrol.js) on one side,
// the store on the other. It sends what the run control asks for (configure, set, start, pause,
// step, reset) and the `view` message, and turns the server's messages into the store's state
// (token, run, runConfig, task, invalid) and events ("status", "points", "frame", "surface", ...).
// Which edit sends what is the settings table's word (each setting's kind, shared/settings.js).

import { knownOptions, websocketUrl } from "../shared/api.js";
import { changedSettings } from "../shared/store.js";
import { Connection } from "./connection.js";
import { RunControl } from "./runcontrol.js";

const CONFIGURE_DEBOUNCE_MS = 300;
const SET_DEBOUNCE_MS = 150;
const MAX_FPS = 60; // updates asked of the server: the display rate (a weights update costs it ~1 ms)

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

// A status's state, as an event of the run control ("idle" only comes before any network).
const SERVER_EVENTS = { paused: "serverPaused", running: "serverRunning", diverged: "serverDiverged" };
// Run states whose network the server holds as the page shows it: after a dropped socket the page
// asks for that session back (/ws?resume=TOKEN) instead of building a new network.
const RESUMABLE = new Set(["paused", "running", "diverged"]);

export class LiveRun {
  /** Listens to the store's "command" events: start, pause, step (with n), reset. */
  constructor(store) {
    this.store = store;
    this.table = store.table;
    this.run = new RunControl({ onChange: (state) => store.set({ run: state }) });
    this.configureTimer = null;
    this.pendingReasons = new Set();
    this.setTimer = null;
    this.pendingSet = {};
    this.pendingNotice = null; // shown when the network being configured is built
    this.commandSeq = 0;
    this.errorSeq = -1;
    this.renderSent = null; // the render mode the server was last told
    this.choosing = false; // a configure is deciding who draws: it sends the view itself
    this.lastToken = null; // the session of the last status, which a reconnect asks for back ...
    this.resumable = false; // ... when the server holds its network as the page shows it
    this.greeting = null; // set on open: the connection's first message says whether it resumed
    this.takenOverCode = null; // the close code of a socket whose session went on to a newer one (/api/options)
    knownOptions().then((options) => { this.takenOverCode = (options.connection || {}).taken_over_close_code ?? null; },
      () => {}); // (the page's entry reads the options first and says it when they cannot be had)
    this.connection = new Connection(() => this.socketUrl(), {
      onOpen: (isReconnect) => this.onOpen(isReconnect),
      onClose: (wasOpen, code) => this.onClose(code),
      onMessage: (msg) => this.onMessage(msg),
      onFrame: (frame) => (frame.surface ? store.emit("surface", frame.surface, frame.receivedAt) : store.emit("frame", frame)),
      onStateChange: (state) => store.set({ connection: state }),
    });

    store.subscribe("settings", (now, before) => this.settingsChanged(changedSettings(now, before)));
    // A network opened from a file (or closed): a new network, with the debounce of any network edit.
    store.subscribe("network", (net) => {
      if (!this.connection.isOpen) this.resumable = false;
      this.pendingReasons.add(net ? `opened ${net.name}` : "the opened network closed");
      clearTimeout(this.configureTimer);
      this.configureTimer = setTimeout(() => this.flushConfigure(), CONFIGURE_DEBOUNCE_MS);
    });
    store.subscribe("renderer", (choice) => {
      if (!this.choosing && choice && choice.mode !== this.renderSent) this.sendView();
    });
    store.subscribe("surfaceShown", () => this.sendView()); // the surface is pushed only while shown
    store.on("command", (command, detail) => this.command(command, detail));
    store.on("edit", (message) => this.send({ ...message, type: "edit" })); // inspect/handedits.js
    document.addEventListener("visibilitychange", () => this.sendView());
    window.addEventListener("online", () => this.connection.retryNow());
  }

  connect() {
    this.connection.connect();
  }

  // -- edits ------------------------------------------------------------------------------

  settingsChanged(changed) {
    const kinds = new Set(changed.map((name) => this.table.kindOf(name)));
    // Edited while offline: the configure on connecting carries them, so the old session is not resumed.
    if (!this.connection.isOpen && (kinds.has("network") || kinds.has("training"))) this.resumable = false;
    const settings = this.store.get("settings");
    for (const name of changed) {
      const kind = this.table.kindOf(name);
      if (kind === "network") this.pendingReasons.add(REASONS[name] || `${name} changed`);
      if (kind === "training") this.pendingSet[name] = settings[name];
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
      this.sendView();
      this.dispatch("viewChanged");
    }
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

  /** A person's command (the run bar, the space key). */
  command(name, { n = 1, anyway = false } = {}) {
    // a network set by hand is not trained before the person says so (inspect/handedits.js asks)
    if (name === "start" && this.store.get("handSet") && !anyway) {
      this.store.emit("trainHandSet");
      return;
    }
    if (name === "start" || name === "step" || name === "reset") this.flushConfigure();
    if (name === "start" || name === "step") this.flushSet();
    const events = { start: "userStart", pause: "userPause", step: "userStep", reset: "userReset" };
    this.dispatch(events[name], { n });
  }

  // -- the run control and its commands ------------------------------------------------------

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
        if (this.send({ type: "reset" })) this.store.emit("restarted", { reset: true }); // the same network from step 0
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
    // Who draws the new network is decided now ("configuring": drawing/drawer.js); server frames are
    // asked for before it is built, weights after, so that its updates never come in a form the
    // page cannot draw. (A layer string the server will refuse decides nothing: the old network stays.)
    const before = this.renderSent;
    const choiceBefore = this.store.get("renderer");
    this.choosing = true;
    try {
      this.store.emit("configuring", this.store.get("settings"));
    } finally {
      this.choosing = false;
    }
    const choice = this.store.get("renderer");
    const mode = choice !== choiceBefore ? choice.mode : before;
    if (mode !== before && mode === "server") this.sendView();
    const opened = this.store.get("network");
    const configure = { type: "configure", config: this.table.runConfig(this.store.get("settings")) };
    if (opened) configure.network = opened.id; // the server says what the network is (its layers, task)
    if (!this.send(configure)) return;
    if (mode !== before && mode === "client") this.sendView();
    this.pendingNotice = notice;
  }

  /** The `view` message: every view setting of the table, the page's choices (who draws, whether
   *  the surface is shown), and what the connection itself asks (visible, max_fps). */
  sendView() {
    const choice = this.store.get("renderer");
    const render = choice ? choice.mode : "server";
    const sent = this.send({
      type: "view",
      visible: document.visibilityState !== "hidden",
      ...this.table.viewFields(this.store.get("settings"), { render, surface: this.store.get("surfaceShown") }),
      max_fps: MAX_FPS,
    });
    if (sent) this.renderSent = render;
  }

  // -- the connection ----------------------------------------------------------------------

  /** The socket's address: with the last session's token when the page means to take it back. */
  socketUrl() {
    const url = websocketUrl();
    return this.resumable && this.lastToken ? `${url}?resume=${encodeURIComponent(this.lastToken)}` : url;
  }

  onOpen(isReconnect) {
    this.store.banner.clear("connection");
    this.store.emit("connected");
    this.sendView();
    this.greeting = { isReconnect }; // onMessage: the first message says whether the run went on
  }

  /** The first message of a connection: "resumed" (the run went on while the socket was down) or a new
   *  session's status (the network is built from the page's settings). */
  greeted(msg) {
    const { isReconnect } = this.greeting;
    this.greeting = null;
    if (msg.type === "resumed") {
      this.dispatch("resumed", { notice: null });
      this.store.notice.show("Reconnected — the run went on where it was");
      return;
    }
    const notice = isReconnect ? "Reconnected — the previous run was lost, so a new network was started" : null;
    this.dispatch("connected", { notice });
  }

  onClose(code) {
    this.greeting = null;
    // (a failed reconnection closes too: offline or interrupted already, the first drop decided)
    if (this.run.state !== "offline" && this.run.state !== "interrupted") this.resumable = RESUMABLE.has(this.run.state);
    if (code === this.takenOverCode) this.resumable = false; // another socket has it now: start over here
    this.dispatch("disconnected");
    this.store.set({ token: null });
    this.store.banner.set(
      "connection",
      this.connection.everOpened ? "Connection lost — reconnecting…" : "Cannot reach the server — retrying…",
    );
  }

  onMessage(msg) {
    if (!msg || typeof msg !== "object") return;
    if (this.greeting) this.greeted(msg);
    if (msg.type === "status") this.onStatus(msg);
    else if (msg.type === "error") this.onError(msg);
    else if (msg.type === "points") this.onPoints(msg);
    else if (msg.type === "edited") this.store.emit("edited", msg);
  }

  /** Points come once per network the server built: the configure was accepted. Only now do the
   *  old run's curves go: a refused configure leaves the old run on screen, charts and panels alike. */
  onPoints(msg) {
    this.store.emit("restarted", { reset: false }); // a new network from step 0
    this.store.emit("points", msg);
    this.dispatch("built");
    this.store.emit("networkKnown");
    this.store.banner.clearPrefix("field:");
    this.store.set({ invalid: null });
    if (this.pendingNotice) this.store.notice.show(this.pendingNotice);
    this.pendingNotice = null;
  }

  onStatus(msg) {
    const store = this.store;
    // The first status of a connection has a token but no network yet (config null).
    const hasRun = msg.config !== null && msg.config !== undefined;
    if (typeof msg.token === "string" && msg.token) this.lastToken = msg.token;
    store.set({ token: hasRun && typeof msg.token === "string" && msg.token ? msg.token : null });
    if (hasRun) store.set({ runConfig: msg.config, task: msg.config.task === "classify" ? "classify" : "regress" });
    store.emit("status", msg, hasRun);
    if (SERVER_EVENTS[msg.state]) this.dispatch(SERVER_EVENTS[msg.state]);
    if (hasRun) store.emit("networkKnown");

    if (msg.state === "diverged") {
      store.banner.set("diverged", msg.message || "Training diverged — lower the learning rate, then press Train to continue.");
    } else {
      store.banner.clear("diverged");
      // A command after the last error went through: that error is resolved (a refusal only by a new network).
      if (hasRun && this.commandSeq > this.errorSeq && this.run.state !== "refused") {
        store.banner.clear("server");
        store.banner.clearPrefix("field:");
        store.set({ invalid: null });
      }
    }
  }

  onError(msg) {
    const text = typeof msg.message === "string" && msg.message ? msg.message : "The server reported an error";
    const field = typeof msg.field === "string" ? msg.field : null;
    this.store.emit("serverError", text, field);
    const kind = field === null ? undefined : this.table.kindOf(field);
    // One entry per setting, so "no network yet" after a refused configure does not hide why.
    this.store.banner.set(kind ? `field:${field}` : "server", text);
    this.errorSeq = this.commandSeq;
    if (!kind) return;
    this.store.set({ invalid: { field, message: text } });
    this.dispatch(kind === "view" ? "viewRefused" : "settingRefused");
    if (this.run.state === "refused") this.pendingNotice = null;
  }
}

/** The live part: the run, connected once every other part listens. */
export function mountLiveRun(store) {
  const live = new LiveRun(store);
  live.connect();
  return { live, get renderSent() { return live.renderSent; } };
}
