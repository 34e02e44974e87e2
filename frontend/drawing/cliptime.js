// The moment of a clip on screen. A run on a clip (status.frames > 1) learns f(x, y, t), t in
// [-1, 1] over the clip; the panels show the slice at one t: the time slider (the view setting
// `t`, so it travels in `view` messages and in the address) picks it, ▶ plays the clip at its own
// speed. The target panel shows the clip's frame nearest to t and the training points of the
// frames next to it; the page's renderer folds t into the first layer's bias (sliceAt), the very
// identity the server's exact tools use (geometry/slices.py).

import { clipFrameUrl } from "../shared/api.js";
import { facts } from "../shared/facts.js";

const MIN_PLAY_S = 2; // a very short clip still takes this long to play through

/** Frame index nearest to t of a clip of `count` frames (core/clips.py nearest_frame). */
export function nearestFrame(t, count) {
  if (count <= 1) return 0;
  return Math.min(count - 1, Math.max(0, Math.round(((t + 1) / 2) * (count - 1))));
}

/** The 2-input network of the slice at t of a net whose weights take (x, y, t) (inDim 3):
 *  first weights W[:, :2], first bias b + W[:, 2]·t; every later layer as it is. */
export function sliceAt(net, t) {
  if (!net || (net.inDim ?? 2) !== 3) return net;
  const w0 = net.widths[0];
  const src = net.weights;
  const out = new Float32Array(src.length - w0);
  for (let j = 0; j < w0; j++) {
    out[2 * j] = src[3 * j];
    out[2 * j + 1] = src[3 * j + 1];
  }
  for (let j = 0; j < w0; j++) out[2 * w0 + j] = src[3 * w0 + j] + src[3 * j + 2] * t;
  out.set(src.subarray(4 * w0), 3 * w0);
  return { ...net, inDim: 2, weights: out };
}

export class ClipTime {
  /** els: {bar, slider, play, readout}; onTime(t) when the person (or play) moves the time. */
  constructor(els, { onTime }) {
    this.els = els;
    this.onTime = onTime;
    this.frames = 1;
    this.duration = 0;
    this.imageUrl = null;
    this.points = null;
    this.t = 0;
    this.playing = false;
    this.raf = 0;
    this.preloaded = [];
    els.play.addEventListener("click", () => (this.playing ? this.stop() : this.play()));
    els.slider.addEventListener("pointerdown", () => this.stop());
    this._render();
  }

  get isClip() {
    return this.frames > 1;
  }

  /** From a status: the run's target (frames, duration, image url). */
  setRun({ frames = 1, duration_s: duration = 0, image_url: imageUrl = null }) {
    const changed = frames !== this.frames || imageUrl !== this.imageUrl;
    this.frames = Number.isInteger(frames) && frames > 0 ? frames : 1;
    this.duration = Number(duration) || 0;
    this.imageUrl = imageUrl;
    if (changed) {
      if (!this.isClip) this.stop();
      this._preload();
    }
    this._render();
    return changed;
  }

  setTime(t) {
    this.t = Number.isFinite(t) ? t : 0;
    this._render();
  }

  /** The target picture to show now: the frame nearest to t of a clip, else the run's picture. */
  targetUrl(imageUrl = this.imageUrl) {
    if (!imageUrl || !this.isClip) return imageUrl;
    return clipFrameUrl(imageUrl, nearestFrame(this.t, this.frames));
  }

  /** The `points` message of the run; pointsNow() gives the points of the frames near t. */
  setPoints(points) {
    this.points = points;
  }

  pointsNow() {
    const p = this.points;
    if (!p || !this.isClip || !Array.isArray(p.train_frames)) return p;
    const k = nearestFrame(this.t, this.frames);
    const near = (list, frames) => list.filter((_, i) => Math.abs(frames[i] - k) <= facts.nearbyFrames);
    const kept = { ...p, train: near(p.train, p.train_frames), val: near(p.val, p.val_frames || []) };
    if (Array.isArray(p.train_labels)) kept.train_labels = near(p.train_labels, p.train_frames); // a classifier's labels
    return kept;
  }

  play() {
    if (!this.isClip) return;
    this.playing = true;
    const period = Math.max(MIN_PLAY_S, this.duration) * 1000; // t runs -1..1 in one period
    let t = this.t >= 1 ? -1 : this.t;
    let last = performance.now();
    const tick = (now) => {
      if (!this.playing) return;
      t += (2 * (now - last)) / period;
      last = now;
      if (t > 1) t = -1; // loops
      this.onTime(Math.round(t * 1000) / 1000);
      this.raf = requestAnimationFrame(tick);
    };
    this.raf = requestAnimationFrame(tick);
    this._render();
  }

  stop() {
    this.playing = false;
    cancelAnimationFrame(this.raf);
    this.raf = 0;
    this._render();
  }

  _preload() {
    // The browser keeps the frames (Cache-Control), so moving t never waits for the network.
    this.preloaded = [];
    if (!this.isClip || !this.imageUrl) return;
    for (let k = 0; k < this.frames; k++) {
      const img = new Image();
      img.src = clipFrameUrl(this.imageUrl, k);
      this.preloaded.push(img);
    }
  }

  _render() {
    const { bar, slider, play, readout } = this.els;
    bar.hidden = !this.isClip;
    bar.dataset.clip = String(this.isClip);
    slider.disabled = !this.isClip;
    play.disabled = !this.isClip;
    play.textContent = this.playing ? "❚❚" : "▶";
    play.dataset.playing = String(this.playing);
    if (String(slider.value) !== String(this.t) && document.activeElement !== slider) slider.value = String(this.t);
    const k = nearestFrame(this.t, this.frames);
    readout.dataset.t = String(this.t);
    readout.textContent = this.isClip ? `t = ${this.t.toFixed(2)} · frame ${k + 1} of ${this.frames}` : "";
  }
}
