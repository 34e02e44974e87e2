// The run bar: Train / Pause, Step (with how many), Reset and the space key as the store's
// "command" events (live/liverun.js acts on them); the run's state pill, the connection's
// state, and the session's download links (live only while a network is there).

import { DOWNLOADS, sessionUrl } from "../shared/api.js";
import { pillState, wantsToRun } from "./runcontrol.js";

const PILL_WORDS = {
  offline: "Offline",
  starting: "Starting…",
  refused: "Refused",
  paused: "Paused",
  running: "Training",
  diverged: "Diverged",
};

const $ = (id) => document.getElementById(id);

/** Whether a key typed at `el` is text (a field, a list, editable content), not a command. */
function typesText(el) {
  if (!el || !el.closest) return false;
  if (el.closest("textarea, select, [contenteditable=''], [contenteditable='true']")) return true;
  const NOT_TEXT = ["checkbox", "radio", "range", "button", "submit", "reset", "file", "color", "image"];
  return el.tagName === "INPUT" && !NOT_TEXT.includes(el.type);
}

export function mountRunBar(store) {
  const maxStepN = store.table.limits.max_step_n;
  const command = (name, detail) => store.emit("command", name, detail);
  const stepInput = $("step-n-input");
  stepInput.max = String(maxStepN);

  function step() {
    let n = Math.round(Number(stepInput.value));
    if (!Number.isFinite(n) || n < 1) n = 1;
    n = Math.min(maxStepN, n);
    stepInput.value = String(n);
    command("step", { n });
  }

  $("start-button").addEventListener("click", () => command("start"));
  $("pause-button").addEventListener("click", () => command("pause"));
  $("step-button").addEventListener("click", () => step());
  $("reset-button").addEventListener("click", () => command("reset"));
  for (const id of Object.keys(DOWNLOADS)) {
    $(id).addEventListener("click", (event) => {
      if (!store.get("token")) event.preventDefault();
    });
  }
  // Space starts and stops training from anywhere but a text field: a focused button,
  // thumbnail or checkbox does not take the key (it would press or untick itself).
  const isSpace = (event) => event.code === "Space" || event.key === " ";
  document.addEventListener("keydown", (event) => {
    if (!isSpace(event) || event.ctrlKey || event.metaKey || event.altKey || typesText(event.target)) return;
    event.preventDefault();
    if (event.repeat) return;
    command(wantsToRun(store.get("run")) ? "pause" : "start");
  }, true);
  document.addEventListener("keyup", (event) => {
    if (isSpace(event) && !typesText(event.target)) event.preventDefault(); // a button clicks on key-up
  }, true);

  /** The run control's state on the page: the pill, and Train or Pause. */
  function showRun(state) {
    const pill = pillState(state);
    const el = $("run-state");
    el.textContent = PILL_WORDS[pill] || pill;
    el.dataset.state = pill;
    if (pill === "offline") el.title = "";
    const running = wantsToRun(state);
    $("start-button").hidden = running;
    $("pause-button").hidden = !running;
  }
  showRun(store.get("run"));
  store.subscribe("run", showRun);

  store.subscribe("connection", (state) => {
    const el = $("connection-status");
    el.dataset.state = state;
    el.textContent = { open: "Connected", connecting: "Connecting…", reconnecting: "Reconnecting…" }[state] || state;
  });

  store.subscribe("token", (token) => {
    for (const [id, what] of Object.entries(DOWNLOADS)) {
      const a = $(id);
      if (token) {
        a.href = sessionUrl(token, what);
        a.classList.remove("disabled");
        a.removeAttribute("aria-disabled");
      } else {
        a.removeAttribute("href");
        a.classList.add("disabled");
        a.setAttribute("aria-disabled", "true");
      }
    }
  });
  store.subscribe("isClip", (isClip) => {
    $("download-clip").hidden = !isClip;
  });
  store.on("status", (msg) => {
    $("run-state").title = msg.message || "";
  });
}
