// The region inspector: click (or rest the pointer on) the partition panel and
// the side panel shows the linear region under that point — activation pattern
// per layer (click a neuron to see the line where it switches), the local
// linear model f(x) = A x + c with torch autograd's check, area, number of
// edges, and the inequalities (the binding ones marked). REST: /inspect and
// /neuron-line (docs/protocol.md, "Exact geometry"), asked for the step and the view
// box the panels show. A classifier's region adds its per-class maps, the scores and softmax at
// the point (autograd's softmax beside them) and where each class wins inside the region (the
// pieces' areas; their exact boundary drawn on the overlay). Asked for the step and the view
// box the panels show (`at`), so a replayed or zoomed picture is inspected as seen.

import { fetchInspect, fetchNeuronLine } from "../shared/api.js";
import { swatch } from "../sidebar/classes.js";
import { eventPoint } from "../drawing/viewbox.js";
import { neuronLabel, neuronWords } from "../shared/neurons.js";

const HOVER_DELAY_MS = 120;
const REFRESH_RUNNING_MS = 1000; // re-inspect a pinned point this often while training runs

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function fmt(v, digits = 6) {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e5) return v.toFixed(digits);
  return v.toExponential(digits - 1);
}

export function fmtArea(area) {
  if (typeof area !== "number") return "—";
  const share = (area / 4) * 100; // the square [-1, 1]² has area 4
  const pct = share >= 0.01 ? `${share.toFixed(2)}%` : `${share.toExponential(1)}%`;
  return `${area.toExponential(4)} (${pct} of the square)`;
}

export class Inspector {
  /** at() -> {step (null: live), box (null: the square)}; busy() is true while the panel is dragged;
   *  onShow(data | null, {pinned, replay, box, error}) after each answer shown, a clear or an error
   *  (the compact card, inspectbrief.js); onInspected(data | null): the region shown (the /inspect
   *  answer), for other views to mark it (the 3-D surface). */
  constructor({ canvas, overlay, root, onError, at = () => ({ step: null, box: null }), busy = () => false, onShow = () => {},
    onInspected = () => {} }) {
    this.canvas = canvas;
    this.overlay = overlay;
    this.root = root;
    this.dead = []; // per layer, '1' where the neuron is off everywhere (the frames' dead_pattern)
    this.classNames = []; // a classifier's class names ("red", ...), from the points message
    this.onError = onError || (() => {});
    this.onShow = onShow;
    this.at = at;
    this.busy = busy;
    this.onInspected = onInspected;
    this.again = null; // a step change that came while a request was out: {step, immediate}
    this.asked = null; // the replayed step the data shown was asked for (null: live)
    this.token = null;
    this.point = null; // [x, y] inspected
    this.pinned = false;
    this.data = null;
    this.seq = 0; // latest request number; older answers are dropped
    this.inFlight = false;
    this.lastStep = null;
    this.lastFetchAt = 0;
    this.running = false;
    this.neuron = null; // {layer, neuron, step} whose line is shown (step: of the line drawn)
    this.hoverTimer = null;
    this.els = {
      where: root.querySelector("#inspector-where"),
      empty: root.querySelector("#inspector-empty"),
      body: root.querySelector("#inspector-body"),
      area: root.querySelector("#inspector-area"),
      edges: root.querySelector("#inspector-edges"),
      output: root.querySelector("#inspector-output"),
      gradient: root.querySelector("#inspector-gradient"),
      classify: root.querySelector("#inspector-classify"),
      classTable: root.querySelector("#inspector-class-table"),
      pieces: root.querySelector("#inspector-pieces"),
      pattern: root.querySelector("#inspector-pattern"),
      lineInfo: root.querySelector("#neuron-line-info"),
      inequalities: root.querySelector("#inspector-inequalities"),
      copy: root.querySelector("#copy-inequalities"),
      copied: root.querySelector("#copy-status"),
      clear: root.querySelector("#inspector-clear"),
    };
    canvas.addEventListener("click", (event) => this._click(event));
    canvas.addEventListener("pointermove", (event) => this._hover(event));
    canvas.addEventListener("pointerleave", () => clearTimeout(this.hoverTimer));
    this.els.pattern.addEventListener("click", (event) => this._patternClick(event));
    this.els.copy.addEventListener("click", () => this.copy());
    this.els.clear.addEventListener("click", () => this.clear());
    this._show(null);
  }

  /** A new session token (null: none); a new network forgets the inspected point. */
  setToken(token) {
    if (token === this.token) return;
    this.token = token;
    this.clear();
  }

  setRunning(running) {
    this.running = running;
  }

  /** The panels show another step: keep the inspection in step with them (`immediate`:
   * the person chose it, so no waiting for the refresh interval while training runs). */
  onStep(step, immediate = false) {
    if (!this.point || !this.token || step === this.lastStep) return;
    if (this.inFlight) {
      this.again = { step, immediate };
      return;
    }
    const due = immediate || !this.running || performance.now() - this.lastFetchAt >= REFRESH_RUNNING_MS;
    if (due) this.inspect(this.point, this.pinned);
  }

  /** The view box changed: the inspected region (and line) again, clipped to the new box. */
  refresh() {
    if (this.point && this.token) this.inspect(this.point, this.pinned);
    else if (this.neuron && this.token) this._loadLine(this.neuron.layer, this.neuron.neuron);
  }

  /** Training resumed: a region picked by the resting pointer (not a click) is let go, so that its
   *  outline never stays behind on a partition that moves on. A pinned one follows its point. */
  dropHover() {
    clearTimeout(this.hoverTimer);
    if (this.point && !this.pinned) this.clear();
  }

  clear() {
    clearTimeout(this.hoverTimer);
    this.seq += 1;
    this.again = null;
    this.point = null;
    this.pinned = false;
    this.data = null;
    this.neuron = null;
    this.lastStep = null;
    this.overlay.setHighlight(null);
    this.overlay.setSegments(null);
    this._show(null);
    this.onInspected(null);
  }

  _click(event) {
    clearTimeout(this.hoverTimer);
    if (!this.token) return;
    this.inspect(eventPoint(event, this.canvas, this.at().box || undefined), true);
  }

  _hover(event) {
    clearTimeout(this.hoverTimer);
    if (this.pinned || !this.token || event.pointerType === "touch" || this.busy()) return;
    const point = eventPoint(event, this.canvas, this.at().box || undefined);
    this.hoverTimer = setTimeout(() => this.inspect(point, false), HOVER_DELAY_MS);
  }

  async inspect(point, pin) {
    const seq = ++this.seq;
    const token = this.token;
    this.point = point;
    this.pinned = pin;
    this.inFlight = true;
    this.lastFetchAt = performance.now();
    this.root.dataset.state = "loading";
    const at = this.at();
    try {
      const data = await fetchInspect(token, point[0], point[1], at);
      if (seq !== this.seq || token !== this.token) return;
      this.data = data;
      this.lastStep = data.step;
      this.asked = Number.isInteger(at.step) ? at.step : null;
      this._show(data);
      this.overlay.setHighlight(data.polygon, data.point, data.classify ? data.classify.boundary : null);
      this.onInspected(data);
      // The line depends on the network and the box only: fetched again when the step moved, not per point.
      if (this.neuron && (this.neuron.step !== data.step || this.neuron.box !== at.box)) this._loadLine(this.neuron.layer, this.neuron.neuron);
    } catch (err) {
      if (seq !== this.seq) return;
      // The server's words (a point outside the box it accepts, a step it no longer keeps) go
      // beside the inspector; only a server failure goes to the banner.
      this.root.dataset.state = "error";
      this.els.where.textContent = err.message;
      this.onShow(null, { error: err.message });
      this.lastStep = null;
      if (!err.status || err.status >= 500) this.onError(err.message);
    } finally {
      if (seq === this.seq) {
        this.inFlight = false;
        const again = this.again;
        this.again = null;
        if (again) this.onStep(again.step, again.immediate);
      }
    }
  }

  _show(data) {
    const { els } = this;
    els.empty.hidden = Boolean(data);
    els.body.hidden = !data;
    els.clear.hidden = !data;
    if (!data) {
      this.root.dataset.state = "empty";
      els.where.textContent = "";
      this.onShow(null, {});
      return;
    }
    this.root.dataset.state = "ready";
    this.root.dataset.pinned = String(this.pinned);
    this.root.dataset.x = String(data.point[0]);
    this.root.dataset.y = String(data.point[1]);
    this.root.dataset.step = String(data.step);
    // A server that could not answer for the replayed step says which step it did answer for.
    const asked = this.asked === null ? "" : this.asked === data.step ? " (replay)" : ` — not the replayed step ${this.asked}`;
    els.where.textContent = `at (${data.point[0].toFixed(4)}, ${data.point[1].toFixed(4)}), step ${data.step}${asked}${this.pinned ? "" : " — click to pin"}`;
    els.area.textContent = fmtArea(data.area);
    els.area.dataset.value = String(data.area);
    els.edges.textContent = String(data.edge_count);
    els.edges.dataset.value = String(data.edge_count);
    els.output.textContent = data.output.map((v) => fmt(v, 4)).join(", ");
    this._showGradient(data);
    this._showClasses(data.classify || null);
    this._showPattern(data);
    this._showInequalities(data);
    this.onShow(data, { pinned: this.pinned, replay: this.asked !== null && this.asked === data.step, box: this.at().box });
  }

  _showGradient(data) {
    const box = this.els.gradient;
    box.replaceChildren();
    box.dataset.gradient = JSON.stringify(data.gradient);
    box.dataset.offset = JSON.stringify(data.c);
    const names = data.gradient.length === 3 ? ["R", "G", "B"] : data.gradient.length === 1 ? [""] : data.gradient.map((_, i) => String(i));
    data.gradient.forEach((g, i) => {
      const row = el("div", "affine-row");
      const label = el("span", "affine-name", "f");
      if (names[i]) label.append(el("sub", "", names[i]));
      label.append("(x, y) =");
      row.append(label, el("span", "affine-terms", `${fmt(g[0])} x ${g[1] < 0 ? "−" : "+"} ${fmt(Math.abs(g[1]))} y ${data.c[i] < 0 ? "−" : "+"} ${fmt(Math.abs(data.c[i]))}`));
      box.append(row);
    });
    const grad = el("div", "affine-grad", `gradient A = ${data.gradient.map((g) => `(${fmt(g[0])}, ${fmt(g[1])})`).join(", ")}`);
    box.append(grad);
    const diff = data.autograd ? data.autograd.max_abs_diff : null;
    const check = el("div", `autograd ${diff !== null && diff < 1e-6 ? "ok" : "off"}`);
    check.textContent = diff === null ? "" : `torch autograd at the point: ${data.autograd.gradient.map((g) => `(${fmt(g[0])}, ${fmt(g[1])})`).join(", ")} — max |difference| ${diff.toExponential(1)}`;
    box.append(check);
  }

  /** A classifier's region (the `classify` member of /inspect): one row per class. */
  _showClasses(info) {
    const { classify, classTable, pieces } = this.els;
    classify.hidden = !info;
    classTable.replaceChildren();
    pieces.textContent = "";
    if (!info) return;
    classify.dataset.winner = String(info.winner);
    const areas = new Map();
    for (const piece of info.pieces) areas.set(piece.class, (areas.get(piece.class) || 0) + piece.area);
    const total = [...areas.values()].reduce((a, b) => a + b, 0) || 1;
    const head = el("tr");
    for (const word of ["class", "score on this region s(x, y) = A (x, y) + c", "score", "softmax", "autograd", "wins on"]) head.append(el("th", "", word));
    classTable.append(head);
    info.maps.forEach((map, k) => {
      const row = el("tr", k === info.winner ? "winner" : "");
      row.dataset.testid = `class-row-${k}`;
      const name = el("td");
      if (map.color) name.append(swatch(map.color));
      name.append(` ${this.classNames[k] || k}${k === info.winner ? " (wins here)" : ""}`);
      const [ax, ay] = map.A;
      const terms = `${fmt(ax, 4)} x ${ay < 0 ? "−" : "+"} ${fmt(Math.abs(ay), 4)} y ${map.c < 0 ? "−" : "+"} ${fmt(Math.abs(map.c), 4)}`;
      const share = (areas.get(k) || 0) / total;
      row.append(name, el("td", "", terms), el("td", "", fmt(info.scores[k], 4)), el("td", "", fmt(info.softmax[k], 4)),
        el("td", "", fmt(info.autograd_softmax[k], 4)), el("td", "", share > 0 ? `${(100 * share).toFixed(1)}% of the region` : "—"));
      classTable.append(row);
    });
    const winners = [...areas.keys()].length;
    pieces.textContent = winners > 1
      ? `${winners} classes win inside this region, in ${info.pieces.length} convex pieces cut by ${info.boundary.length} straight piece${info.boundary.length === 1 ? "" : "s"} of the decision boundary (dashed on the partition); softmax checked against torch autograd: max |difference| ${info.max_softmax_diff.toExponential(1)}.`
      : `Class ${info.winner} wins on the whole region: the decision boundary does not cross it. Softmax checked against torch autograd: max |difference| ${info.max_softmax_diff.toExponential(1)}.`;
  }

  /** A classifier's class names, in class order (empty for a regression). */
  setClassNames(names) {
    this.classNames = Array.isArray(names) ? names : [];
  }

  /** The latest frame's dead neurons ('0010|1000', '1' = off everywhere), marked in the next pattern shown. */
  setDead(pattern) {
    this.dead = typeof pattern === "string" ? pattern.split("|") : [];
  }

  _showPattern(data) {
    const box = this.els.pattern;
    box.replaceChildren();
    box.dataset.pattern = data.pattern;
    const binding = new Map(data.inequalities.map((q) => [`${q.layer}:${q.neuron}`, q.binding]));
    data.layers.forEach((bits, li) => {
      const layer = li + 1;
      const row = el("div", "pattern-row");
      row.append(el("span", "pattern-label", `L${layer}`));
      const cells = el("div", "pattern-cells");
      bits.forEach((bit, j) => {
        const b = binding.get(`${layer}:${j}`);
        const dead = (this.dead[li] || "")[j] === "1";
        const cell = el("button", `neuron ${bit ? "on" : "off"}${b ? " binding" : ""}${dead ? " dead" : ""}`);
        cell.dataset.dead = dead ? "true" : "false";
        cell.type = "button";
        cell.dataset.layer = String(layer);
        cell.dataset.neuron = String(j);
        cell.dataset.on = bit ? "1" : "0";
        cell.dataset.binding = b ? "true" : "false";
        cell.title = `${neuronWords(layer, j)} (${neuronLabel(layer, j)}): ${bit ? "on (pre-activation > 0)" : "off"}${dead ? " everywhere in the square (dead)" : ""}${b ? "; bounds this region" : ""} — click to show where it switches`;
        cell.setAttribute("aria-label", cell.title);
        if (this.neuron && this.neuron.layer === layer && this.neuron.neuron === j) cell.classList.add("selected");
        cells.append(cell);
      });
      row.append(cells, el("span", "pattern-bits", bits.join("")));
      box.append(row);
    });
  }

  _showInequalities(data) {
    const list = this.els.inequalities;
    list.replaceChildren();
    const bound = data.inequalities.filter((q) => q.binding);
    const redundant = data.inequalities.filter((q) => !q.binding);
    const item = (q, cls) => {
      const li = el("li", cls);
      li.dataset.layer = String(q.layer);
      li.dataset.neuron = String(q.neuron);
      li.dataset.binding = q.binding ? "true" : "false";
      li.append(el("span", "ineq-mark", q.binding ? "★" : ""), el("span", "ineq-name", `${neuronLabel(q.layer, q.neuron)} ${q.on ? "on" : "off"}`), el("code", "ineq-text", q.text));
      return li;
    };
    for (const q of bound) list.append(item(q, "binding"));
    for (const side of data.box_sides.filter((s) => s.binding)) {
      const li = el("li", "binding box-side");
      li.dataset.side = side.side;
      li.dataset.binding = "true";
      li.append(el("span", "ineq-mark", "★"), el("span", "ineq-name", `box ${side.side}`), el("code", "ineq-text", side.text));
      list.append(li);
    }
    for (const q of redundant) list.append(item(q, "redundant"));
    list.dataset.binding = String(bound.length);
    this.els.copied.textContent = `${bound.length} of ${data.inequalities.length} neuron inequalities bound the polygon${data.box_sides.some((s) => s.binding) ? " (with the box)" : ""}; the others are redundant.`;
  }

  async copy() {
    if (!this.data) return;
    const text = this.data.text;
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch (err) {
      // No clipboard permission (e.g. an insecure origin): select the text in a scratch field.
      const area = el("textarea", "visually-hidden");
      area.value = text;
      document.body.append(area);
      area.select();
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
      area.remove();
    }
    this.els.copy.dataset.copied = ok ? "true" : "false";
    this.els.copy.textContent = ok ? "Copied ✓" : "Copy failed";
    setTimeout(() => {
      this.els.copy.textContent = "Copy as text";
    }, 1500);
  }

  _patternClick(event) {
    const cell = event.target.closest("button.neuron");
    if (!cell) return;
    const layer = Number(cell.dataset.layer);
    const neuron = Number(cell.dataset.neuron);
    if (this.neuron && this.neuron.layer === layer && this.neuron.neuron === neuron) {
      this.neuron = null;
      this.overlay.setSegments(null);
      this.els.lineInfo.textContent = "";
      cell.classList.remove("selected");
      return;
    }
    for (const c of this.els.pattern.querySelectorAll("button.neuron.selected")) c.classList.remove("selected");
    cell.classList.add("selected");
    this.neuron = { layer, neuron, step: null };
    this._loadLine(layer, neuron);
  }

  async _loadLine(layer, neuron) {
    const token = this.token;
    this.els.lineInfo.textContent = `Finding where ${neuronWords(layer, neuron)} switches…`;
    this.els.lineInfo.dataset.state = "loading";
    const at = this.at();
    try {
      const data = await fetchNeuronLine(token, layer, neuron, at);
      if (token !== this.token || !this.neuron || this.neuron.layer !== layer || this.neuron.neuron !== neuron) return;
      this.neuron.step = data.step;
      this.neuron.box = at.box;
      this.overlay.setSegments(data.segments);
      const n = data.segments.length;
      this.els.lineInfo.dataset.state = "ready";
      this.els.lineInfo.dataset.segments = String(n);
      this.els.lineInfo.textContent = n
        ? `${neuronWords(layer, neuron, { capital: true })} (${neuronLabel(layer, neuron)}) switches on the pink line (${n} straight piece${n === 1 ? "" : "s"}${layer > 1 ? ", bent where earlier layers switch" : ""}).`
        : `${neuronWords(layer, neuron, { capital: true })} (${neuronLabel(layer, neuron)}) never switches inside the square (it is ${this._bit(layer, neuron) ? "on" : "off"} everywhere).`;
    } catch (err) {
      this.els.lineInfo.dataset.state = "error";
      this.els.lineInfo.textContent = err.message;
    }
  }

  _bit(layer, neuron) {
    return this.data && this.data.layers[layer - 1] ? this.data.layers[layer - 1][neuron] : 0;
  }
}
