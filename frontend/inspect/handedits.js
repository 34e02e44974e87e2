// Edits by hand: click an edge (a weight) or a node (its bias) of the network diagram and this
// part's editor opens beside it — the number, a drag slider, the names of the layer and neurons,
// Apply, Reset to the trained value. Every edit goes to the server as an `edit` message (the live
// run sends it, docs/protocol.md "Edits by hand"); the server answers `edited` and an update with
// the edited network, which the panels, the exact count and the inspector then show.
//
// It also keeps: the marks of edited numbers in the diagram (until training changes them) and on
// the timeline; undo / redo (Ctrl+Z, Ctrl+Shift+Z and buttons); Copy / Paste weights as JSON and a
// link carrying a small network's weights (#weights=..., at most URL_MAX_CHARS); Start from zeros;
// and the question Train asks of a network set by hand (`handSet` in the store: Train anyway).

import { fetchPresets, fetchWeights } from "../shared/api.js";
import { layersOf, netFromHash, readWeightsDocument, weightsHash } from "./weightsjson.js";

const URL_MAX_CHARS = 2048; // a link carries the weights of a small network only
const ANSWER_WAIT_MS = 5000; // an edit not answered by then is given up on (a lost connection)

const inputWords = (n) => (n === 3 ? "3 inputs (x, y, t: a clip's network)" : "2 inputs (x, y)");
const keyOf = (e) => `${e.layer}:${e.kind}:${e.row ?? ""}:${e.col ?? ""}`;
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "testid") node.dataset.testid = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

/** A number as the editor shows it: short, yet the float32 the network holds. */
function shown(v) {
  return String(Number(Number(v).toPrecision(7)));
}

// -- the part -----------------------------------------------------------------------------

export class HandEdits {
  constructor(store) {
    this.store = store;
    this.table = store.table;
    this.defaultInit = this.table.defaults().init;
    this.token = null;
    this.config = null;
    this.step = 0; // the newest step the server sent
    this.marks = new Map(); // key -> {layer, kind, row, col, step, note}: numbers set by hand
    this.originals = new Map(); // key -> the value before its first edit by hand (Reset to trained value)
    this.undoStack = [];
    this.redoStack = [];
    this.queue = []; // edits waiting for the one in flight to be answered
    this.inFlight = null;
    this.answerTimer = null;
    this.confirmed = false; // the person said Train anyway to this network
    this.roles = {};
    this.presets = [];
    this.pick = null; // the number in the editor
    this.pending = null; // weights waiting for a network of their shape (a paste, a link)
    this._build();
    this._listen();
    fetchPresets().then((list) => { this.presets = list; this._roles(); }).catch(() => {});
    const fromLink = netFromHash(location.hash);
    if (fromLink) {
      this.pending = { layers: layersOf(fromLink), widths: fromLink.widths, outDim: fromLink.outDim, inDim: fromLink.inDim,
                       undo: false };
    }
  }

  // -- building --------------------------------------------------------------------------

  _build() {
    this.title = el("div", { class: "we-title", testid: "weight-editor-title" });
    this.role = el("div", { class: "we-role hint", testid: "weight-editor-role" });
    this.number = el("input", { type: "number", step: "any", class: "we-number", testid: "weight-value", "aria-label": "Value" });
    this.slider = el("input", { type: "range", class: "we-slider", testid: "weight-slider", "aria-label": "Drag to change the value" });
    const apply = el("button", { type: "button", class: "btn small primary", testid: "weight-apply", text: "Apply" });
    const reset = el("button", { type: "button", class: "btn small", testid: "weight-reset", text: "Reset to trained value",
                                 title: "The value before you edited it" });
    const close = el("button", { type: "button", class: "btn small we-close", testid: "weight-close", text: "×", "aria-label": "Close" });
    this.error = el("div", { class: "we-error", testid: "weight-error", role: "status" });
    this.editor = el("div", { class: "weight-editor", testid: "weight-editor", role: "dialog", "aria-label": "Set a weight by hand", hidden: "" },
      el("div", { class: "we-head" }, this.title, close), this.role,
      el("div", { class: "we-row" }, this.number, apply, reset), this.slider, this.error);
    document.body.append(this.editor);
    this.number.addEventListener("keydown", (e) => {
      if (e.key === "Enter") this._commit(this.number.value);
      if (e.key === "Escape") this.close();
    });
    apply.addEventListener("click", () => this._commit(this.number.value));
    reset.addEventListener("click", () => this.pick && this._commit(this.originals.get(this.pick.key) ?? this.pick.opened));
    close.addEventListener("click", () => this.close());
    this.slider.addEventListener("input", () => this._drag(Number(this.slider.value)));
    this.slider.addEventListener("change", () => this._commit(this.slider.value));

    // the tools under the diagram: undo, redo, copy, paste, a link, start from zeros
    const button = (testid, text, title, action) => {
      const b = el("button", { type: "button", class: "btn small", testid, text, title });
      b.addEventListener("click", action);
      return b;
    };
    this.undoButton = button("undo-edit", "↶ Undo", "Undo the last edit by hand (Ctrl+Z)", () => this.undo());
    this.redoButton = button("redo-edit", "↷ Redo", "Redo (Ctrl+Shift+Z)", () => this.redo());
    this.text = el("textarea", { class: "we-json", testid: "weights-json", rows: "4", spellcheck: "false", hidden: "",
                                 "aria-label": "Weights as JSON" });
    this.applyPaste = button("weights-paste-apply", "Apply pasted weights", "Set every weight of the network to these", () => this._paste(this.text.value));
    this.applyPaste.hidden = true;
    this.toolsNote = el("span", { class: "hint", testid: "hand-tools-note", role: "status" });
    this.tools = el("div", { class: "hand-tools", testid: "hand-tools" },
      this.undoButton, this.redoButton,
      button("weights-copy", "Copy weights", "The network's weights as JSON (to share or paste later)", () => this.copy()),
      button("weights-paste", "Paste weights", "Set the network's weights from JSON", () => this._showPaste()),
      button("weights-link", "Link", "A link that carries this network's weights (small networks)", () => this.link()),
      button("start-zeros", "Start from zeros", "The same layers with every weight 0: set them by hand", () => {
        this.store.updateSettings({ init: "zeros" });
      }),
      this.toolsNote, this.text, this.applyPaste);
    // In a card of their own under the charts (beside the inspector), not under the diagram: the first
    // screen keeps the panels, the timeline and the charts (the editor itself opens by the diagram).
    const card = el("div", { class: "card hand-card", testid: "hand-card" }, el("h3", { text: "By hand" }), this.tools);
    document.querySelector("section.geometry").prepend(card);
    this._renderTools();

    // the question Train asks of a network set by hand
    this.askText = el("p", { testid: "train-ask-text" });
    const anyway = button("train-anyway", "Train anyway", "Train: the weights set by hand change; Reset brings them back", () => {
      this.ask.hidden = true;
      this.confirmed = true;
      this._handSet();
      this.store.emit("command", "start", { anyway: true });
    });
    const cancel = button("train-cancel", "Keep them", "Do not train", () => { this.ask.hidden = true; });
    anyway.classList.add("primary");
    this.ask = el("div", { class: "train-ask", testid: "train-ask", role: "alertdialog", hidden: "" },
      this.askText, el("div", { class: "we-row" }, anyway, cancel));
    $("start-button").after(this.ask);

    // edits on the timeline: a mark at each step edited by hand
    this.timelineMarks = el("div", { class: "timeline-marks", testid: "timeline-marks", "aria-hidden": "true" });
    $("timeline-bar").append(this.timelineMarks);
  }

  _listen() {
    const store = this.store;
    store.on("weightPicked", (pick) => this.open(pick));
    store.on("status", (msg, hasRun) => {
      this.token = hasRun ? msg.token : null;
      if (hasRun) this.config = msg.config;
      this._roles();
      this._handSet();
    });
    store.subscribe("token", (token) => {
      if (token === null) this._answered(); // a lost connection answers nothing: do not wait for it
    });
    store.on("restarted", () => this._forget()); // a new network, or the same from step 0
    store.on("networkKnown", () => this._applyPending());
    store.on("frame", ({ header }) => {
      this.step = header.step;
      let trained = false;
      for (const [key, mark] of this.marks) {
        if (header.step > mark.step) { // training has changed it since
          this.marks.delete(key);
          this.originals.delete(key);
          trained = true;
        }
      }
      if (trained) this._showMarks();
      this._timeline();
      this._handSet();
    });
    store.on("edited", (msg) => this._edited(msg));
    store.on("serverError", (text, field) => {
      if (!this.inFlight) return;
      if (!this.editor.hidden) this.error.textContent = text;
      else this.toolsNote.textContent = text;
      this._answered();
    });
    store.on("trainHandSet", () => {
      const init = this.config && this.config.init !== this.defaultInit ? ` (${this.config.init})` : "";
      this.askText.textContent = `This network was set by hand${init}: training will change its weights. `
        + "Reset brings them back.";
      this.ask.hidden = false;
    });
    document.addEventListener("keydown", (e) => {
      if (!(e.ctrlKey || e.metaKey) || e.key.toLowerCase() !== "z") return;
      const t = e.target;
      if (t && t !== this.number && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type !== "range"))) return;
      e.preventDefault();
      if (e.shiftKey) this.redo();
      else this.undo();
    });
  }

  // -- the editor ------------------------------------------------------------------------

  /** Open the editor for a picked number ({layer, kind, row, col, value, anchor}). */
  open(pick) {
    const key = keyOf(pick);
    this.pick = { ...pick, key, opened: pick.value, committed: pick.value };
    const depth = this.config ? this.table.widths(this.config.layers)?.length ?? pick.layer - 1 : pick.layer - 1;
    const layerName = (l) => (l === depth + 1 ? "output" : `layer ${l}`);
    const neuron = (l, j) => (l === 0 ? ["x", "y", "t"][j] : l === depth + 1 ? `output ${j}` : `${layerName(l)} neuron ${j}`);
    this.title.textContent = pick.kind === "bias"
      ? `Bias of ${neuron(pick.layer, pick.row)}`
      : `Weight from ${neuron(pick.layer - 1, pick.col)} to ${neuron(pick.layer, pick.row)}`;
    this.role.textContent = this.roles[`${pick.layer}:${pick.row}`] || "";
    this.error.textContent = "";
    Object.assign(this.editor.dataset, { layer: pick.layer, kind: pick.kind, row: pick.row, col: pick.col ?? "" });
    this._setValue(pick.value, true);
    this.editor.hidden = false;
    const o = pick.origin ? pick.origin.getBoundingClientRect() : { left: 0, top: 0 };
    this.placedAt = null;
    this.anchor = { ...pick.anchor, dx: o.left, dy: o.top }; // measured against the diagram, which may move
    if (!this.placing) this._place(); // (one loop, however often it is opened)
    this.number.focus({ preventScroll: true });
    this.number.select();
  }

  close() {
    this.editor.hidden = true;
    this.pick = null;
  }

  /** Beside the pick, never over it: right of it, left of it, below or above (the first that fits).
   *  While open it follows the diagram when the page moves under it (a scroll bar, a longer page). */
  _place() {
    this.placing = Boolean(this.pick);
    if (!this.pick) return;
    const o = this.pick.origin ? this.pick.origin.getBoundingClientRect() : { left: 0, top: 0 };
    const shift = { x: o.left - this.anchor.dx, y: o.top - this.anchor.dy };
    const key = `${shift.x},${shift.y},${window.scrollX},${window.scrollY}`;
    if (key !== this.placedAt) {
      this.placedAt = key;
      const a = this.anchor;
      const w = this.editor.offsetWidth;
      const h = this.editor.offsetHeight;
      const [ax, ay] = [a.x + shift.x, a.y + shift.y];
      const [left, top, bottom] = [(a.left ?? a.x) + shift.x, (a.top ?? a.y) + shift.y, (a.bottom ?? a.y) + shift.y];
      const W = document.documentElement.clientWidth;
      const H = window.innerHeight;
      const clampX = (v) => Math.max(8, Math.min(W - w - 8, v));
      const clampY = (v) => Math.max(8, Math.min(H - h - 8, v));
      const places = [
        [ax + 12, clampY(ay - h / 2), ax + 12 + w <= W - 8],
        [left - w - 12, clampY(ay - h / 2), left - w - 12 >= 8],
        [clampX(left), bottom + 8, bottom + 8 + h <= H - 8],
        [clampX(left), top - h - 8, top - h - 8 >= 8],
      ];
      const [x, y] = places.find((p) => p[2]) || [clampX(ax + 12), bottom + 8];
      // in the page's coordinates: it scrolls with the diagram it points at
      this.editor.style.left = `${x + window.scrollX}px`;
      this.editor.style.top = `${Math.max(8, y) + window.scrollY}px`;
    }
    requestAnimationFrame(() => this._place());
  }

  _setValue(v, rescale = false) {
    this.number.value = shown(v);
    if (rescale) { // the slider spans the value's neighbourhood: ±max(1, 2|v|)
      const span = Math.max(1, 2 * Math.abs(v));
      this.slider.min = String(-span);
      this.slider.max = String(span);
      this.slider.step = String(span / 200);
    }
    this.slider.value = String(v);
  }

  _message(value) {
    const { layer, kind, row, col } = this.pick;
    return kind === "bias" ? { layer, kind, row, value } : { layer, kind, row, col, value };
  }

  /** The slider moves: each position is sent (latest wins while one waits), not yet an undo step. */
  _drag(v) {
    if (!this.pick) return;
    this.number.value = shown(v);
    this._send(this._message(v), { coalesce: true });
  }

  /** Enter, Apply, the slider let go, Reset: the value is set and can be undone. */
  _commit(raw) {
    if (!this.pick) return;
    const v = Number(raw);
    if (raw === "" || !Number.isFinite(v)) {
      this.error.textContent = "value: type a number";
      return;
    }
    this.error.textContent = "";
    const before = this.pick.committed;
    this.pick.committed = v;
    this._setValue(v, Math.abs(v) > Number(this.slider.max));
    if (!this.originals.has(this.pick.key)) this.originals.set(this.pick.key, this.pick.opened);
    this._send(this._message(v));
    if (v !== before) this._push({ forward: [this._message(v)], backward: [this._message(before)] });
  }

  // -- sending, one at a time ------------------------------------------------------------

  _send(message, { coalesce = false } = {}) {
    const last = this.queue.at(-1);
    if (coalesce && last && last.coalesce && keyOf(last.message) === keyOf(message)) last.message = message;
    else this.queue.push({ message, coalesce });
    this._next();
  }

  _next() {
    if (this.inFlight || !this.queue.length) return;
    this.inFlight = this.queue.shift().message;
    this.store.emit("edit", this.inFlight);
    clearTimeout(this.answerTimer);
    this.answerTimer = setTimeout(() => this._answered(), ANSWER_WAIT_MS);
  }

  _answered() {
    clearTimeout(this.answerTimer);
    this.inFlight = null;
    this._next();
  }

  _edited(msg) {
    const key = keyOf(msg);
    if (msg.values === undefined) {
      const original = this.originals.get(key);
      if (original !== undefined && Math.fround(original) === Math.fround(msg.value)) {
        this.marks.delete(key); // put back as it was: no longer set by hand
        this.originals.delete(key);
      } else {
        this.marks.set(key, { layer: msg.layer, kind: msg.kind, row: msg.row, col: msg.col ?? null, step: msg.step, note: msg.note });
      }
    } else { // a whole matrix or bias: every number of it
      msg.values.forEach((v, r) => {
        const cols = Array.isArray(v) ? v.length : 0;
        if (!cols) this.marks.set(keyOf({ ...msg, row: r, col: null }), { layer: msg.layer, kind: "bias", row: r, col: null, step: msg.step });
        for (let c = 0; c < cols; c++) {
          this.marks.set(keyOf({ ...msg, row: r, col: c }), { layer: msg.layer, kind: "weight", row: r, col: c, step: msg.step });
        }
      });
    }
    this.confirmed = false;
    this.step = msg.step;
    this.editHistory = [...(this.editHistory || []), { step: msg.step, note: msg.note }];
    this._showMarks();
    this._timeline();
    this._handSet();
    if (this.pick && this.pick.key === key && msg.values === undefined && document.activeElement !== this.number
        && document.activeElement !== this.slider) this._setValue(msg.value);
    if (this.inFlight && keyOf(this.inFlight) === key) this._answered();
  }

  // -- undo and redo ---------------------------------------------------------------------

  _push(entry) {
    this.undoStack.push(entry);
    this.redoStack = [];
    this._renderTools();
  }

  undo() {
    const entry = this.undoStack.pop();
    if (!entry) return;
    for (const m of entry.backward) this._send(m);
    this.redoStack.push(entry);
    this._reopen(entry.backward);
    this._renderTools();
  }

  redo() {
    const entry = this.redoStack.pop();
    if (!entry) return;
    for (const m of entry.forward) this._send(m);
    this.undoStack.push(entry);
    this._reopen(entry.forward);
    this._renderTools();
  }

  /** The editor, if open on the number undone or redone, shows its new value. */
  _reopen(messages) {
    const m = messages.length === 1 ? messages[0] : null;
    if (this.pick && m && keyOf(m) === this.pick.key) {
      this.pick.committed = m.value;
      this._setValue(m.value);
    }
  }

  _renderTools() {
    this.undoButton.disabled = !this.undoStack.length;
    this.redoButton.disabled = !this.redoStack.length;
  }

  // -- whole networks: copy, paste, a link -------------------------------------------------

  async _current() {
    if (!this.token) throw new Error("no network yet");
    const data = await fetchWeights(this.token, null, { whole: true });
    return { widths: data.widths, outDim: data.out_dim, inDim: data.in_dim, weights: Float32Array.from(data.weights), step: data.step };
  }

  async copy() {
    try {
      const net = await this._current();
      const text = JSON.stringify({ widths: net.widths, out_dim: net.outDim, in_dim: net.inDim, layers: layersOf(net) });
      this._showText(text);
      await navigator.clipboard?.writeText(text).catch(() => {});
      this.toolsNote.textContent = `Copied the weights of ${net.widths.join(",")} → ${net.outDim} (step ${net.step}).`;
    } catch (err) {
      this.toolsNote.textContent = `Copy weights: ${err.message}`;
    }
  }

  async link() {
    try {
      const net = await this._current();
      const url = `${location.origin}${location.pathname}${location.search}${weightsHash(net)}`;
      if (url.length - location.href.split("#")[0].length > URL_MAX_CHARS) {
        this.toolsNote.textContent = `This network's weights take more than ${URL_MAX_CHARS} characters: use Copy weights instead.`;
        return;
      }
      history.replaceState(null, "", url);
      this._showText(url);
      await navigator.clipboard?.writeText(url).catch(() => {});
      this.toolsNote.textContent = "The page's address now carries these weights.";
    } catch (err) {
      this.toolsNote.textContent = `Link: ${err.message}`;
    }
  }

  _showText(text) {
    this.text.hidden = false;
    this.text.value = text;
    this.applyPaste.hidden = true;
    this.text.select();
  }

  _showPaste() {
    this.text.hidden = false;
    this.text.value = "";
    this.applyPaste.hidden = false;
    this.toolsNote.textContent = "Paste the weights' JSON, then Apply.";
    this.text.focus();
  }

  _paste(text) {
    try {
      const doc = readWeightsDocument(text);
      this.pending = { ...doc, undo: true };
      this._applyPending();
    } catch (err) {
      this.toolsNote.textContent = `Paste weights: ${err.message}`;
    }
  }

  /** Pasted or linked weights, onto a network of their shape (a new one of that shape first). */
  async _applyPending() {
    const doc = this.pending;
    if (!doc || !this.token || !this.config) return;
    const widths = this.table.widths(this.config.layers) || [];
    let net;
    try {
      net = await this._current();
    } catch (err) {
      return; // asked again when the network is known
    }
    if (this.pending !== doc) return;
    if (net.inDim !== doc.inDim) { // the inputs come with the picture (a clip's t): no new network gives them
      this.pending = null;
      this.toolsNote.textContent = `Paste weights: they take ${inputWords(doc.inDim)}; this network takes `
        + `${inputWords(net.inDim)}${doc.inDim === 3 ? ": open a clip first" : ": open a picture first"}`;
      return;
    }
    if (widths.join() !== doc.widths.join() || net.outDim !== doc.outDim) {
      if (doc.asked) {
        this.pending = null;
        this.toolsNote.textContent = `Paste weights: they are for ${doc.widths.join(",")} → ${doc.outDim} outputs; `
          + `this picture's network has ${net.outDim} output${net.outDim === 1 ? "" : "s"}`;
        return;
      }
      doc.asked = true; // a network of their layers first (a hand-set init may not fit them)
      this.store.updateSettings({ layers: doc.widths.join(","), ...(this.config.init === this.defaultInit ? {} : { init: "zeros" }) });
      return;
    }
    this.pending = null;
    const message = (layer, kind, values) => ({ layer, kind, values });
    const forward = doc.layers.flatMap((l, i) => [message(i + 1, "weight", l.W), message(i + 1, "bias", l.b)]);
    const backward = layersOf(net).flatMap((l, i) => [message(i + 1, "weight", l.W), message(i + 1, "bias", l.b)]);
    for (const m of forward) this._send(m);
    if (doc.undo) this._push({ forward, backward });
    this.toolsNote.textContent = `Set every weight of ${doc.widths.join(",")} → ${doc.outDim} by hand.`;
  }

  // -- what is shown besides the editor ----------------------------------------------------

  _forget() {
    this.marks.clear();
    this.originals.clear();
    this.undoStack = [];
    this.redoStack = [];
    this.editHistory = [];
    this.confirmed = false;
    this.step = 0;
    this.close();
    this._showMarks();
    this._timeline();
    this._renderTools();
    this._handSet();
  }

  _showMarks() {
    this.store.emit("handEdits", [...this.marks.values()]);
  }

  /** A mark on the timeline at each step edited by hand (placed by step along the slider). */
  _timeline() {
    const slider = $("timeline");
    const edits = (this.editHistory || []).filter((e) => e.step <= this.step);
    this.editHistory = edits;
    const steps = [...new Set(edits.map((e) => e.step))];
    this.timelineMarks.replaceChildren(...steps.map((step) => {
      const f = this.step > 0 ? step / this.step : 1;
      const mark = el("span", { class: "timeline-mark", "data-step": String(step),
                                title: `step ${step}: ${edits.filter((e) => e.step === step).map((e) => e.note).join("; ")}` });
      mark.style.left = `${slider.offsetLeft + f * slider.offsetWidth}px`;
      mark.style.top = `${slider.offsetTop - 4}px`;
      return mark;
    }));
  }

  _roles() {
    const c = this.config;
    const preset = c && this.presets.find((p) => p.config.init === c.init && p.config.layers === c.layers
                                                   && p.config.image === c.image && c.init !== this.defaultInit);
    this.roles = preset ? preset.roles || {} : {};
  }

  /** Train asks first while the network on screen is one set by hand (the init, or edits). */
  _handSet() {
    const handInit = this.config && this.config.init !== this.defaultInit && this.step === 0;
    this.store.set({ handSet: Boolean((handInit || this.marks.size > 0) && !this.confirmed) });
  }
}

export function mountHandEdits(store) {
  return { handEdits: new HandEdits(store) };
}
