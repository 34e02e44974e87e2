// Who draws the panels, decided per network (rendermode.js chooses; this module acts on the
// choice): the page's renderer (one GpuPanels, made when first needed) or the server's pictures.
// It decides before a configure from the page's settings (the store's "configuring") and again
// once the server's network is known ("networkKnown"), and puts the choice in the store
// (`renderer`), where the live run tells the server (live/liverun.js) and the panels follow.

import { GpuPanels } from "./gpupanels.js";
import { chooseRender, forcedRender, networkShape, probeGL } from "./rendermode.js";

export class Drawer {
  /** onPainter(gpu): the page's renderer was made; onLost(): it was lost (the server draws now). */
  constructor(store, { onPainter }) {
    this.store = store;
    this.onPainter = onPainter;
    this.forced = forcedRender(location.search); // ?render=client|server
    this.gl = probeGL();
    this.gpu = null; // GpuPanels, once the page draws
    this.gpuFailed = null; // why the page's renderer cannot be used, when it failed

    store.on("configuring", (settings) => {
      const net = this.netOf(settings);
      // A layer string the server will refuse decides nothing: the old network stays on screen.
      if (net.widths && net.widths.every((w) => w >= 1)) this.choose(net);
    });
    store.on("networkKnown", () => this.sync());
  }

  /** {widths, outDim} of a config (the page's settings or the server's run). */
  netOf(config) {
    return networkShape(config, this.store.table.widths(config.layers));
  }

  /** Decide who draws `net` and set the page up for it. */
  choose(net) {
    let choice = chooseRender({ forced: this.forced, gl: this.gl, net });
    if (choice.mode === "client" && !this.gpu) {
      try {
        if (this.gpuFailed) throw new Error(this.gpuFailed);
        this.gpu = new GpuPanels({ onLost: () => this.lost() });
        this.onPainter(this.gpu);
      } catch (err) {
        this.gpuFailed = err.message;
        choice = { mode: "server", label: "server", reason: `the page's renderer could not start (${err.message})` };
      }
    }
    this.store.set({ renderer: choice });
  }

  /** After the server's network is known: draw it the way that suits it (not while a new one is on its way). */
  sync() {
    const { runConfig, run } = this.store.values;
    if (!runConfig || run === "configuring" || run === "configuringToRun") return;
    this.choose(this.netOf(runConfig));
  }

  lost() {
    this.gpu = null;
    this.gpuFailed = "the GPU context was lost";
    this.choose(this.netOf(this.store.get("runConfig") || this.store.get("settings")));
  }
}
