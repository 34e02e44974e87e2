// The timeline under the panels: the run's kept networks (weighthistory.js) on a slider.
// Live, the panels follow the newest network; scrubbing (or playing back at a chosen
// speed in steps per second) shows an earlier one, redrawn at once from its weights,
// and "Live" returns. Only where the page draws itself: server frames are pictures,
// with no weights to redraw from.

import { WeightHistory } from "./weighthistory.js";

export class Timeline {
  /** els: {bar, slider, play, speed, live, readout, note}; onShow(net, replay) when the net on screen
   *  changes; onReplay(step) whenever the replayed step changes (null: live). */
  constructor(els, { onShow, onReplay = () => {} }) {
    this.els = els;
    this.onShow = onShow;
    this.onReplay = onReplay;
    this.history = new WeightHistory();
    this.enabled = false;
    this._replayStep = null; // null: live
    this.shown = null;
    this.playing = false;
    this.raf = 0;
    els.slider.addEventListener("input", () => {
      const index = Number(els.slider.value); // (stop() redraws the slider)
      this.stop(); // the person took the slider: play-back ends where they put it
      this.scrubTo(index);
    });
    els.live.addEventListener("click", () => this.goLive());
    els.play.addEventListener("click", () => (this.playing ? this.stop() : this.play()));
    this._render();
  }

  get replayStep() {
    return this._replayStep;
  }

  set replayStep(step) {
    this._replayStep = step;
    this.onReplay(step);
  }

  get replaying() {
    return this.replayStep !== null;
  }

  /** Server frames (on = false): no history, nothing to scrub; `note` says why. */
  setEnabled(on, note = "") {
    this.enabled = on;
    this.els.note.textContent = note;
    if (!on) {
      this.stop();
      this.history.clear();
      this.replayStep = null;
      this.shown = null;
    }
    this._render();
  }

  /** A network arrived from the server: kept, and shown when live. */
  add(net) {
    if (!this.enabled) return;
    const kind = this.history.add(net);
    if (kind === "new" && this.replaying) this.stop(); // a new network or a reset: its past is gone
    if (kind === "new" || !this.replaying) {
      this.replayStep = null;
      this._show(this.history.newest);
    } else if (this.history.at(this.history.indexAt(this.replayStep)).step !== this.replayStep) {
      // The replayed step was thinned away: the nearest earlier one kept (geometry asks for a kept step).
      const entry = this.history.at(this.history.indexAt(this.replayStep));
      this.replayStep = entry.step;
      this._show(entry);
    }
    this._render();
  }

  scrubTo(index) {
    const n = this.history.length;
    if (!this.enabled || n === 0) return;
    index = Math.max(0, Math.min(n - 1, Math.round(index)));
    if (index === n - 1 && !this.playing) {
      this.goLive();
      return;
    }
    this.replayStep = this.history.at(index).step;
    this._show(this.history.at(index));
    this._render();
  }

  goLive() {
    this.stop();
    const was = this.replaying;
    this.replayStep = null;
    if (was && this.history.newest) this._show(this.history.newest);
    this._render();
  }

  /** Play back from the step shown (from the start when live) at the chosen steps per second. */
  play() {
    if (!this.enabled || this.history.length < 2) return;
    if (!this.replaying) this.scrubTo(0);
    this.playing = true;
    let virtual = this.replayStep, last = performance.now();
    const tick = (now) => {
      if (!this.playing) return;
      virtual += (Number(this.els.speed.value) || 1000) * ((now - last) / 1000);
      last = now;
      const newest = this.history.newest;
      if (virtual >= newest.step) {
        this.goLive();
        return;
      }
      const entry = this.history.at(this.history.indexAt(virtual));
      if (entry.step !== this.replayStep) {
        this.replayStep = entry.step;
        this._show(entry);
        this._render();
      }
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

  _show(net) {
    if (!net || net === this.shown) return;
    this.shown = net;
    this.onShow(net, this.replaying);
  }

  _render() {
    const { bar, slider, play, speed, live, readout } = this.els;
    const n = this.history.length;
    const newest = this.history.newest;
    bar.dataset.enabled = String(this.enabled);
    bar.dataset.mode = this.replaying ? "replay" : "live";
    slider.disabled = !this.enabled || n < 2;
    slider.max = String(Math.max(0, n - 1));
    slider.value = String(this.replaying ? this.history.indexAt(this.replayStep) : Math.max(0, n - 1));
    play.disabled = !this.enabled || n < 2;
    play.textContent = this.playing ? "❚❚ Stop" : "▶ Play";
    play.dataset.playing = String(this.playing);
    speed.disabled = !this.enabled;
    live.disabled = !this.replaying;
    const shown = this.shown ? this.shown.step : null;
    readout.dataset.step = shown === null ? "" : String(shown);
    if (!this.enabled || shown === null) readout.textContent = this.enabled ? "no steps yet" : "—";
    else if (this.replaying) readout.textContent = `step ${shown} of ${newest.step} (replay)`;
    else readout.textContent = `step ${shown} (live)`;
    readout.title = this.enabled ? `${n} step${n === 1 ? "" : "s"} kept (${(this.history.bytes / 1048576).toFixed(1)} MiB)` : "";
  }
}
