// The page's entry. It reads the server's options (GET /api/options: the settings table, the
// limits and the facts the page paints with), saying so and retrying while the server does not
// answer; then it makes the store (shared/store.js) and mounts the page's parts (parts.js), each
// of which subscribes to the store itself. It routes nothing and decides nothing: the run control,
// who draws, the settings table and the timeline each live in their own module.
// Protocol: docs/protocol.md.

import { fetchOptions } from "./shared/api.js";
import { ErrorBanner, Notice } from "./shared/feedback.js";
import { OptionsError, Settings } from "./shared/settings.js";
import { Store } from "./shared/store.js";
import { SettingsSheet } from "./sidebar/layout.js";

const OPTIONS_TIMEOUT_MS = 4000;

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms))]);
}

/** The server's settings and limits. Without them the page cannot be set up: it says so and retries. */
async function loadSettings(banner) {
  for (let attempt = 0; ; attempt++) {
    try {
      const settings = new Settings(await withTimeout(fetchOptions(), OPTIONS_TIMEOUT_MS));
      banner.clear("connection");
      return settings;
    } catch (err) {
      const words = err instanceof OptionsError ? `The server's answer could not be read (${err.message})` : "Cannot reach the server";
      banner.set("connection", `${words} — retrying…`);
      await sleep(Math.min(5000, 300 * 2 ** Math.min(attempt, 5)));
    }
  }
}

async function start() {
  // The settings sheet works before the server answers: on a phone the panels come first.
  new SettingsSheet({ body: document.body, toggle: $("settings-toggle"), close: $("settings-close"), sheet: $("settings") });
  const banner = new ErrorBanner($("error-bar"), $("error-banner"));
  const table = await loadSettings(banner);
  // The address is read now, and only rewritten by the settings part: a link opened while the
  // server is away keeps its settings.
  const store = new Store(table, { settings: table.fromQuery(location.search), banner, notice: new Notice($("restart-notice")) });
  const page = { store };
  Object.defineProperties(page, {
    token: { get: () => store.get("token") },
    runConfig: { get: () => store.get("runConfig") },
  });
  window.polytopeLens = page; // for debugging from the console (and the browser tests)
  const { PARTS } = await import("./parts.js"); // only now: its modules paint with the server's facts
  for (const mount of PARTS) Object.defineProperties(page, Object.getOwnPropertyDescriptors(mount(store) || {}));
}

start();
