// The page's store: what is on screen, in one place, and who is told when it changes.
//
// State (get, set, subscribe): `settings` (one value per setting of the server's table,
// shared/settings.js), `token` (the live session's, null without a network), `run` (the run
// control's state, live/runcontrol.js), `connection`, `runConfig` and `task` (the network the
// server runs, from its last status), `isClip`, `renderer` (who draws: {mode, label, reason},
// drawing/rendermode.js), `replayStep` (the step on screen when an earlier one is replayed, null
// live), `box` (the panels' view box), `dragging` (the panels are being dragged), `invalid`
// ({field, message} of a refused setting, or null), `network` (a network opened from a file:
// its summary from POST /api/networks, or null), `handSet` (the network on screen was set by hand
// and Train should ask first: inspect/handedits.js), `surfaceShown` (the 3-D surface is on screen:
// the server pushes exact surfaces only then).
// Events (on, emit): what happens rather than what is, e.g. a frame or a message from the server,
// a person's command, a network put on screen. Each part of the page (parts.js) subscribes to
// what it shows; the store itself decides nothing.

import { SQUARE, isSquare } from "../drawing/viewbox.js";

export class Store {
  /** `table`: the server's settings (Settings); `settings`: their values at first; `banner`,
   *  `notice`: what the page tells the person (shared/feedback.js), one of each for every part. */
  constructor(table, { settings, banner, notice }) {
    this.table = table;
    this.banner = banner;
    this.notice = notice;
    this.values = {
      settings,
      token: null,
      run: "offline",
      connection: "connecting",
      runConfig: null,
      task: null,
      isClip: false,
      renderer: null,
      replayStep: null,
      box: SQUARE,
      dragging: false,
      invalid: null,
      network: null, // a network opened from a file (POST /api/networks' answer), shown instead of a new one
      handSet: false,
      surfaceShown: false,
    };
    this.watchers = new Map(); // key -> [fn(value, previous)]
    this.listeners = new Map(); // event -> [fn(...args)]
  }

  get(key) {
    if (!(key in this.values)) throw new Error(`the store has no ${key}`);
    return this.values[key];
  }

  /** Change some keys; each one's subscribers are told, in the order they subscribed. */
  set(patch) {
    const changed = Object.keys(patch).filter((key) => patch[key] !== this.get(key));
    const previous = Object.fromEntries(changed.map((key) => [key, this.values[key]]));
    for (const key of changed) this.values[key] = patch[key];
    for (const key of changed) {
      for (const fn of this.watchers.get(key) || []) fn(this.values[key], previous[key]);
    }
  }

  /** fn(value, previous) whenever `key` changes. */
  subscribe(key, fn) {
    this.get(key); // a misspelt key fails here, not silently
    if (!this.watchers.has(key)) this.watchers.set(key, []);
    this.watchers.get(key).push(fn);
  }

  /** A person's (or an experiment's) edit of some settings: a new settings object. */
  updateSettings(patch) {
    const now = this.values.settings;
    if (Object.keys(patch).every((name) => patch[name] === now[name])) return;
    this.set({ settings: { ...now, ...patch } });
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(fn);
  }

  emit(event, ...args) {
    for (const fn of this.listeners.get(event) || []) fn(...args);
  }

  /** What the panels show, as the geometry routes ask for it (shared/api.js atParams): a replayed
   *  step, a zoomed box, a clip's moment. */
  at() {
    const { replayStep, box, isClip, settings } = this.values;
    return { step: replayStep, box: isSquare(box) ? null : box, t: isClip ? settings.t : null };
  }

  /** The moment of a clip the network is evaluated at (0 for a picture). */
  moment() {
    return this.values.isClip ? this.values.settings.t : 0;
  }
}

/** Names of the settings that differ between two settings objects. */
export function changedSettings(now, before) {
  return Object.keys(now).filter((name) => !before || now[name] !== before[name]);
}
