// The live numbers under the panels: step, steps per second, losses, grid regions; for a
// classifier also the accuracies and its exact decision boundary (length, regions crossed).
// Frames can arrive faster than the screen refreshes: only the latest is shown,
// once per animation frame. While the timeline replays an earlier step the readouts show that
// step (the last measurement at or before it, kept here per frame) with a "replay" mark, and
// the live numbers again on Live.

const $ = (id) => document.getElementById(id);

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

function formatAccuracy(v) {
  return typeof v === "number" && Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : "—";
}

function digits(v) {
  return typeof v === "number" && Number.isFinite(v) ? String(Math.max(0, Math.round(v))) : null;
}

const HISTORY_MAX = 8192; // frame headers kept for replay; past it every other one goes (the newest stays)

export class Readouts {
  constructor() {
    this.latest = null;
    this.pending = false;
    this.running = false;
    this.statusStep = null; // the step of the last status
    this.replayStep = null; // the step the timeline shows (null: live)
    this.history = []; // frame headers in step order, for replay
  }

  /** While not training the rate reads 0, whatever the last frame said. */
  setRunning(running) {
    this.running = running;
    if (!running && this.replayStep === null) $("steps-per-s").textContent = "0";
  }

  /** The step of a status, shown at once (unless an earlier step is replayed). */
  setStep(step) {
    this.statusStep = typeof step === "number" ? step : null;
    if (this.replayStep === null) this._step(step);
  }

  /** The run starts again (a new network, a reset): its past measurements are gone. */
  clear() {
    this.history = [];
  }

  /** The timeline shows `step` (null: live again). */
  setReplay(step) {
    this.replayStep = typeof step === "number" ? step : null;
    const box = $("step-counter").closest(".readouts");
    if (box) box.dataset.replay = String(this.replayStep !== null);
    this._mark();
    if (this.replayStep === null) {
      if (this.latest) this._show(this.latest);
      else if (this.statusStep !== null) this._step(this.statusStep);
      if (!this.running) $("steps-per-s").textContent = "0";
      return;
    }
    const h = this._measuredAt(this.replayStep);
    $("steps-per-s").textContent = "—"; // a rate belongs to the live run
    if (h) this._show({ ...h, step: this.replayStep, measured_step: typeof h.measured_step === "number" ? h.measured_step : h.step }, true);
    else this._step(this.replayStep);
  }

  _remember(h) {
    const last = this.history[this.history.length - 1];
    if (last && h.step < last.step) this.history = []; // a new initialisation
    if (last && h.step === last.step) this.history[this.history.length - 1] = h;
    else this.history.push(h);
    if (this.history.length > HISTORY_MAX) {
      const newest = this.history[this.history.length - 1];
      this.history = this.history.filter((_, i) => i % 2 === 0);
      if (this.history[this.history.length - 1] !== newest) this.history.push(newest);
    }
  }

  /** The last header at or before `step`. */
  _measuredAt(step) {
    let lo = 0, hi = this.history.length - 1, found = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid].step <= step) {
        found = this.history[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** The "replay" mark beside the step, made once. */
  _mark() {
    let mark = document.getElementById("readouts-replay");
    if (!mark) {
      mark = document.createElement("span");
      mark.id = "readouts-replay";
      mark.className = "readouts-replay";
      mark.dataset.testid = "readouts-replay";
      mark.textContent = "replay";
      mark.title = "These numbers are of the step the timeline shows; press Live to follow the run";
      $("step-counter").after(mark);
    }
    mark.hidden = this.replayStep === null;
  }

  _step(step) {
    const text = digits(step);
    if (text === null) return;
    $("step-counter").textContent = text;
    $("step-counter").dataset.step = text;
  }

  /** A frame header; shown on the next animation frame (kept only while an earlier step is replayed). */
  showFrame(header) {
    this.latest = header;
    this._remember(header);
    if (this.pending || this.replayStep !== null) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (this.replayStep === null) this._show(this.latest);
    });
  }

  _show(h, replay = false) {
    // A status that does not change the step (e.g. after `view`) may overtake a frame sent just
    // before it: that frame's older step is not shown (a reset's status has the lower step).
    if (replay || this.statusStep === null || h.step >= this.statusStep) this._step(h.step);
    if (this.running && !replay) $("steps-per-s").textContent = formatRate(h.steps_per_s);
    $("train-loss").textContent = formatLoss(h.train_loss);
    $("val-loss").textContent = formatLoss(h.val_loss);
    if ("val_accuracy" in h) {
      $("train-accuracy").textContent = formatAccuracy(h.train_accuracy);
      $("val-accuracy").textContent = formatAccuracy(h.val_accuracy);
      // The exact boundary belongs to exact_step (counted in the background while training runs).
      const length = h.boundary_length;
      const el = $("boundary-length");
      el.textContent = typeof length === "number" && Number.isFinite(length) ? length.toFixed(3) : "—";
      el.title = typeof h.exact_step === "number" ? `exact, at step ${h.exact_step}` : "";
      $("boundary-regions").textContent = digits(h.boundary_regions) ?? "—";
    }
    const regions = digits(h.regions);
    if (regions !== null) {
      const el = $("region-count");
      el.textContent = regions;
      // Between measurements (the page drawing from weights) the count is of an earlier step.
      const at = typeof h.measured_step === "number" ? h.measured_step : h.step;
      el.dataset.step = String(at);
      el.title = `counted on the grid at step ${at}`;
    }
  }
}
