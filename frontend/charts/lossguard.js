// Says when the training loss explodes, before it becomes NaN (the server only stops a
// run whose loss is no longer a number). Targets are brightnesses in [0, 1], so a mean
// squared error above 1 is worse than any constant guess: the steps overshoot.

const ABSOLUTE_LIMIT = 1; // MSE past which no prediction in [0, 1] could be
const RISE_FACTOR = 20; // ... or this many times the best loss of the run
const RISE_FLOOR = 0.25; // (but never for losses this small: Adam's spikes are harmless there)

/** Whether `loss` shows the run exploding, given the lowest loss seen so far. */
export function isExploding(loss, best) {
  if (typeof loss !== "number") return false;
  if (!Number.isFinite(loss)) return true;
  if (loss > ABSOLUTE_LIMIT) return true;
  return Number.isFinite(best) && loss > RISE_FLOOR && loss > RISE_FACTOR * best;
}

/** A learning rate ten times smaller, written like the page writes rates. */
export function smallerRate(lr) {
  return Number((lr / 10).toPrecision(2));
}

export class LossGuard {
  /** onChange(message | null): the words to show, or null when the run is sane again. */
  constructor({ onChange }) {
    this.onChange = onChange;
    this.reset();
  }

  /** A new network or a reset: the run's history starts again. */
  reset() {
    this.best = Infinity;
    this.exploding = false;
    this.onChange(null);
  }

  /** A frame's train loss at `step`, trained with learning rate `lr`. */
  observe(loss, step, lr) {
    if (typeof loss !== "number") return;
    const exploding = isExploding(loss, this.best);
    if (Number.isFinite(loss)) this.best = Math.min(this.best, loss);
    if (exploding) {
      const rate = Number.isFinite(lr) ? ` The learning rate (${lr}) is too large: try ${smallerRate(lr)}.` : " Try a smaller learning rate.";
      this.onChange(`The loss is exploding (${formatBig(loss)} at step ${step}): the training is diverging.${rate}`);
    } else if (this.exploding) {
      this.onChange(null);
    }
    this.exploding = exploding;
  }
}

function formatBig(v) {
  return Number.isFinite(v) ? (Math.abs(v) >= 1000 ? v.toExponential(2) : v.toPrecision(3)) : String(v);
}
