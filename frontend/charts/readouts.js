// The live numbers under the panels: step, steps per second, losses, grid regions; for a
// classifier also the accuracies and its exact decision boundary (length, regions crossed).
// Frames can arrive faster than the screen refreshes: only the latest is shown,
// once per animation frame.

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

export class Readouts {
  constructor() {
    this.latest = null;
    this.pending = false;
    this.running = false;
    this.statusStep = null; // the step of the last status
  }

  /** While not training the rate reads 0, whatever the last frame said. */
  setRunning(running) {
    this.running = running;
    if (!running) $("steps-per-s").textContent = "0";
  }

  /** The step of a status, shown at once. */
  setStep(step) {
    this.statusStep = typeof step === "number" ? step : null;
    this._step(step);
  }

  _step(step) {
    const text = digits(step);
    if (text !== null) $("step-counter").textContent = text;
  }

  /** A frame header; shown on the next animation frame. */
  showFrame(header) {
    this.latest = header;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this._show(this.latest);
    });
  }

  _show(h) {
    // A status that does not change the step (e.g. after `view`) may overtake a frame sent just
    // before it: that frame's older step is not shown (a reset's status has the lower step).
    if (this.statusStep === null || h.step >= this.statusStep) this._step(h.step);
    if (this.running) $("steps-per-s").textContent = formatRate(h.steps_per_s);
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
