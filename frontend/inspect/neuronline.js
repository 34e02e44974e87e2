// The network diagram's neuron line on the partition overlay: the hovered node's, else the pinned
// one's, exactly where that neuron switches (/neuron-line: a line for the first layer, bent at
// earlier layers' boundaries for deeper ones), for the step and box the panels show. Refreshed
// after updates, one request at a time; the inspector's own line is kept apart on the overlay.

import { fetchNeuronLine } from "../shared/api.js";

const OVERLAY_KEY = "diagram";
const REFRESH_MS = 400; // a pinned line follows training at most this often

export class DiagramLine {
  /** overlay: overlay.js; at(): {step, box, t} of the panels; onError(message). */
  constructor({ overlay, at, onError = () => {} }) {
    this.overlay = overlay;
    this.at = at;
    this.onError = onError;
    this.token = null;
    this.hovered = null;
    this.pinned = null;
    this.loading = false;
    this.again = false;
    this.lastLoad = 0;
    this.timer = null;
  }

  setToken(token) {
    this.token = token;
    this.hovered = null;
    this.pinned = null;
    this.overlay.setSegments(null, OVERLAY_KEY);
  }

  hover(node) {
    this.hovered = node;
    this.load();
  }

  pin(node) {
    this.pinned = node;
    this.load();
  }

  /** The network on screen changed (an update, a replayed step, zoom): follow it, not too often. */
  refresh() {
    if (!this.current() || this.timer !== null) return;
    const wait = Math.max(0, this.lastLoad + REFRESH_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.load();
    }, wait);
  }

  current() {
    return this.hovered || this.pinned;
  }

  async load() {
    if (this.loading) {
      this.again = true;
      return;
    }
    const node = this.current();
    if (!node || !this.token) {
      this.overlay.setSegments(null, OVERLAY_KEY);
      return;
    }
    this.loading = true;
    this.lastLoad = performance.now();
    const token = this.token;
    try {
      const data = await fetchNeuronLine(token, node.layer, node.neuron, this.at());
      const still = this.current();
      if (token === this.token && still && still.layer === node.layer && still.neuron === node.neuron) {
        this.overlay.setSegments(data.segments, OVERLAY_KEY);
      }
    } catch (err) {
      this.onError(err.message);
    } finally {
      this.loading = false;
      if (this.again) {
        this.again = false;
        this.load();
      }
    }
  }
}
