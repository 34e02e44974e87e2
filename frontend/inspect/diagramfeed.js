// Where the network diagram's network comes from when the server draws the panels: frames then
// carry pictures, not weights, so after each frame the weights are asked for (/weights), one
// request at a time and at most twice a second. (Where the page draws, the timeline hands the
// diagram the network it puts on screen.)

import { fetchWeights } from "../shared/api.js";

const INTERVAL_MS = 500;

export class ServerWeights {
  /** onNet(net) with net as connection.js decodes a weights update; at(): {step, t} of the panels;
   *  onError(message). */
  constructor({ onNet, at, onError = () => {} }) {
    this.onNet = onNet;
    this.at = at;
    this.onError = onError;
    this.token = null;
    this.shown = null; // the step of the network handed over last
    this.wanted = null; // the step of the newest frame
    this.busy = false;
    this.timer = null;
    this.last = 0;
    this.refused = null; // the token whose weights were refused (too many for JSON)
  }

  setToken(token) {
    this.token = token;
    clearTimeout(this.timer); // a fetch scheduled for the session before is moot (none while disconnected)
    this.timer = null;
    this.reset();
  }

  /** A new network: nothing of it shown yet, and it may be asked for again. */
  reset() {
    this.shown = null;
    this.wanted = null;
    this.refused = null;
  }

  /** The network changed at the step shown (an edit by hand): fetch it again. */
  stale() {
    this.shown = null;
    this.schedule();
  }

  /** A server frame of `step` arrived: fetch that network soon unless it is the one shown. */
  onFrame(step) {
    this.wanted = step;
    this.schedule();
  }

  schedule() {
    if (!this.token || this.refused === this.token || this.wanted === this.shown || this.busy || this.timer !== null) return;
    const wait = Math.max(0, this.last + INTERVAL_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fetch();
    }, wait);
  }

  async fetch() {
    const token = this.token;
    if (!token) return;
    this.busy = true;
    this.last = performance.now();
    try {
      const data = await fetchWeights(token, this.at(), { whole: true }); // a clip's: sliced at t by the diagram
      if (token !== this.token) return;
      this.shown = data.step;
      this.onNet({
        step: data.step, widths: data.widths, outDim: data.out_dim, negativeSlope: data.negative_slope, slopes: data.slopes ?? null,
        weights: Float32Array.from(data.weights), inDim: data.in_dim,
      });
    } catch (err) {
      this.refused = token; // no retry loop: asked again for the next network (a new token)
      this.onError(err.message);
    } finally {
      this.busy = false;
      this.schedule(); // frames that came meanwhile
    }
  }
}
