// The run's networks as the page received them: step -> weights, bounded in bytes.
// A 14x6 net is 4.4 KB, so thousands of steps fit; past the budget every other entry
// is dropped (the newest always stays), so what remains spans the run evenly, as the
// server's own history does (docs/protocol.md, "Weights instead of pictures").

export const HISTORY_BYTES = 64 * 1024 * 1024;

const shapeOf = (net) => `${net.widths.join(",")}|${net.outDim}|${net.slopes ? net.slopes.join(",") : net.negativeSlope}`;

export class WeightHistory {
  constructor(maxBytes = HISTORY_BYTES) {
    this.maxBytes = maxBytes;
    this.clear();
  }

  clear() {
    this.entries = []; // nets {step, widths, outDim, negativeSlope, slopes, weights}, in step order
    this.bytes = 0;
    this.gap = 0; // least step distance kept between entries once thinned (the newest aside)
    this.shape = null;
  }

  get length() {
    return this.entries.length;
  }

  get newest() {
    return this.entries[this.entries.length - 1] || null;
  }

  at(index) {
    return this.entries[index] || null;
  }

  /** Index of the last entry at or before `step` (0 when none is). */
  indexAt(step) {
    let lo = 0, hi = this.entries.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.entries[mid].step <= step) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Keep `net`. Returns "new" (a new network: all before it forgotten), "same" or "added". */
  add(net) {
    let result = "added";
    const last = this.newest;
    if (shapeOf(net) !== this.shape) {
      this.clear();
      this.shape = shapeOf(net);
      result = "new";
    } else if (last && net.step <= last.step) {
      if (net.step === last.step) { // the same step again (e.g. after a view change)
        this.entries[this.entries.length - 1] = net;
        return "same";
      }
      this._dropFrom(this.entries.findIndex((e) => e.step >= net.step)); // a reset went back: forget the future
      result = "new";
    }
    const n = this.entries.length;
    if (n >= 2 && this.entries[n - 1].step - this.entries[n - 2].step < this.gap) this._dropFrom(n - 1); // kept only as the newest
    this.entries.push(net);
    this.bytes += net.weights.byteLength;
    while (this.bytes > this.maxBytes && this.entries.length > 2) this._thin();
    return result;
  }

  _dropFrom(index) {
    for (const e of this.entries.splice(index)) this.bytes -= e.weights.byteLength;
  }

  _thin() {
    const last = this.entries.length - 1;
    this.entries = this.entries.filter((_, i) => i % 2 === 0 || i === last);
    this.bytes = this.entries.reduce((sum, e) => sum + e.weights.byteLength, 0);
    const steps = this.entries.map((e) => e.step);
    this.gap = steps.length > 2 ? Math.min(...steps.slice(1, -1).map((s, i) => s - steps[i])) : 0;
  }
}
