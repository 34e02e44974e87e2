// "Open a network…": a model file trained elsewhere (ONNX, a PyTorch state dict, safetensors),
// chosen or dropped, sent to POST /api/networks (shared/api.js); the store's `network` becomes its
// summary and the live run configures it (live/liverun.js). A network of more than 2 inputs is
// shown on the plane through three rows of a points file (.npy/.csv), chosen before the model.
// The card says what the network is, and what the server refused, in words. Changing what
// defines a new network (layers, activation, task, colour, init) closes it: the page's own
// network is built again.

import { networkRegionsUrl, openNetwork } from "../shared/api.js";
import { facts } from "../shared/facts.js";
import { wireUpload } from "./gallery.js";

const $ = (id) => document.getElementById(id);
const CLOSES = ["layers", "activation", "negative_slope", "task", "color", "init"];

/** One line of words for a network's summary. */
export function describeNetwork(net) {
  const acts = [...new Set(net.activations)];
  const act = acts.length === 1 ? acts[0].replace("leaky_relu", "leaky ReLU").replace("relu", "ReLU") : "mixed: " + net.activations.join(", ");
  const what = net.task === "classify" ? `${net.out_dim} class scores` : `${net.out_dim} output${net.out_dim === 1 ? "" : "s"}`;
  let text = `${net.name}: ${net.in_dim} inputs → ${net.layers.join("-")} → ${what}; ${act}; ${net.parameters.toLocaleString()} parameters.`;
  if (net.plane) {
    text += net.rows.length
      ? ` Shown on the plane through rows ${net.rows.join(", ")} of the points file (marked 1, 2, 3 on the panels).`
      : " Shown on the plane of its first two inputs (the others 0): add a points file for another plane.";
  }
  if (!net.trainable_on_pictures) text += " Shown, not trained: a picture gives 2 inputs.";
  return text;
}

/** Why the live view cannot draw this network (its exact partition is still exported), or null. */
function notDrawable(net) {
  if (net.task === "classify" && net.out_dim > facts.maxClasses) {
    return `the page draws classifiers of up to ${facts.maxClasses} classes; this network has ${net.out_dim} class scores`;
  }
  if (net.task === "regress" && net.out_dim !== 1 && net.out_dim !== 3) {
    return `a regression is drawn from 1 (gray) or 3 (colour) outputs; this network has ${net.out_dim}`;
  }
  return null;
}

export function mountNetworkFile(store) {
  const input = $("network-input"), points = $("network-points-input"), rows = $("network-rows-input");
  const summary = $("network-summary"), close = $("network-close"), zone = $("network-drop-zone");
  const exportLink = $("network-regions");
  let chosenPoints = null;

  function show(net, error = "") {
    summary.textContent = error || (net ? describeNetwork(net) : "");
    summary.classList.toggle("error-text", Boolean(error));
    close.hidden = !net;
  }

  /** The exact partition of an opened network as SVG (with its plane's points): a download. */
  function offerExport(net) {
    exportLink.hidden = !net;
    if (net) exportLink.href = networkRegionsUrl(net.id, "svg");
  }

  async function open(file) {
    store.banner.clear("network");
    zone.classList.add("busy");
    try {
      const net = await openNetwork(file, { points: chosenPoints, rows: rows.value.trim() });
      offerExport(net);
      const why = notDrawable(net);
      if (why) {
        show(store.get("network"), `${describeNetwork(net)} Not shown live: ${why}. Its exact regions: the link below.`);
        return;
      }
      show(net);
      store.set({ network: net });
    } catch (err) {
      show(store.get("network"), err.message || "Opening the network failed");
    } finally {
      zone.classList.remove("busy");
    }
  }

  points.addEventListener("change", () => {
    chosenPoints = (points.files && points.files[0]) || null;
  });
  close.addEventListener("click", () => {
    show(null);
    offerExport(null);
    store.set({ network: null });
  });
  wireUpload({ input, dropTargets: [zone], onFile: (file) => open(file) });

  store.subscribe("settings", (now, before) => {
    if (store.get("network") && CLOSES.some((name) => now[name] !== before[name])) {
      show(null);
      store.set({ network: null });
    }
  });
  // The server's refusals of the network (Train on a network only shown, too many classes) are said here too.
  store.on("serverError", (text, field) => {
    if (field !== "network") return;
    const run = store.get("run");
    if (run === "configuring" || run === "configuringToRun") {
      show(null, text); // the configure naming it was refused (e.g. the server no longer keeps it): the page's own network again
      store.set({ network: null });
    } else {
      show(store.get("network"), text);
    }
  });
  store.on("status", (msg) => {
    if (store.get("network") && typeof msg.message === "string" && msg.message.startsWith("opened ")) {
      summary.textContent = `${describeNetwork(store.get("network"))} ${msg.message.replace(/^opened [^:]*: /, "")}`;
    }
  });
  return { open, show };
}
