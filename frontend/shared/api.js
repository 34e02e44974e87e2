// The one module that talks to the server (docs/protocol.md) and builds its URLs: the REST
// calls, the websocket's address, and the addresses of pictures and session files.

/** Words for a failed response: the server's `detail` when it sent one. */
async function failure(response, what) {
  let detail = "";
  try {
    const body = await response.json();
    if (typeof body.detail === "string") detail = body.detail;
    else if (Array.isArray(body.detail)) {
      detail = body.detail
        .map((d) => (d && typeof d.msg === "string" ? d.msg : JSON.stringify(d)))
        .join("; ");
    } else if (body.detail !== undefined) detail = JSON.stringify(body.detail);
  } catch (err) {
    // not JSON: fall back to the status line
  }
  if (!detail) {
    detail =
      response.status === 413
        ? "the file is larger than the upload limit"
        : `${response.status} ${response.statusText || "error"}`.trim();
  }
  const error = new Error(`${what}: ${detail}`);
  error.detail = detail;
  error.status = response.status;
  return error;
}

async function getJson(path, what) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) throw await failure(response, what);
  return response.json();
}

let options = null; // the last answer of GET /api/options: its settings table and facts do not change

/** {settings, defaults, limits, point_colors, drawing, runs} (shared/settings.js reads it), asked again. */
export async function fetchOptions() {
  options = await getJson("/api/options", "options");
  return options;
}

/** The same, asked only when it was not answered yet (shared/facts.js). */
export async function knownOptions() {
  return options ?? fetchOptions();
}

/** [{id, name, description, steps, config, view, compare_with}]: the Experiments menu (core/presets.py). */
export function fetchPresets() {
  return getJson("/api/presets", "Experiments");
}

/** The websocket of a live session (same host; wss where the page came over https). */
export function websocketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

/** A picture of the image store (a sample or an upload) by its id. */
export function imageUrl(id) {
  return `/api/images/${encodeURIComponent(id)}`;
}

/** Frame `frame` of a clip served at `url` (a picture URL the server gave). */
export function clipFrameUrl(url, frame) {
  return `${url}?frame=${frame}`;
}

/** [{id, name, url}] */
export function fetchSamples() {
  return getJson("/api/samples", "samples");
}

/** Upload a picture; resolves to {image_id, width, height, url}, rejects with the server's detail. */
export async function uploadImage(file) {
  const form = new FormData();
  form.append("file", file, file.name || "upload");
  let response;
  try {
    response = await fetch("/api/images", { method: "POST", body: form });
  } catch (err) {
    const error = new Error("Upload failed: the server could not be reached");
    error.detail = "the server could not be reached";
    throw error;
  }
  if (!response.ok) throw await failure(response, "Upload failed");
  return response.json();
}

/** Open a model file (.onnx, .pt/.pth state dict, .safetensors), optionally with a points file
 *  (.npy/.csv) and three row numbers for a D-input network's plane; resolves to the network's
 *  summary {id, name, in_dim, out_dim, layers, slopes, activations, task, plane, marks, rows, ...},
 *  rejects with the server's words. */
export async function openNetwork(file, { points = null, rows = "" } = {}) {
  const form = new FormData();
  form.append("file", file, file.name || "network");
  if (points) form.append("points", points, points.name || "points");
  if (rows) form.append("rows", rows);
  let response;
  try {
    response = await fetch("/api/networks", { method: "POST", body: form });
  } catch (err) {
    const error = new Error("Opening the network failed: the server could not be reached");
    error.detail = "the server could not be reached";
    throw error;
  }
  if (!response.ok) throw await failure(response, "Opening the network failed");
  return response.json();
}

/** An opened network's exact partition: "json" or "svg" (a D-input network's plane points as rings). */
export function networkRegionsUrl(id, kind = "svg") {
  return `/api/networks/${encodeURIComponent(id)}/regions.${kind}`;
}

export function thumbnailUrl(url, size = 96) {
  return `${url}${url.includes("?") ? "&" : "?"}size=${size}`;
}

export function sessionUrl(token, what) {
  return `/api/sessions/${encodeURIComponent(token)}/${what}`;
}

/** The session's downloads, by what the page calls each link. */
export const DOWNLOADS = Object.freeze({
  "download-frame": "frame.png",
  "download-movie": "movie",
  "download-clip": "clip-movie",
  "download-checkpoint": "checkpoint",
  "download-config": "config",
});

// -- exact geometry (docs/protocol.md, "Exact geometry") -------------------------

function sessionPath(token, what, params) {
  const query = params && Object.keys(params).length ? `?${new URLSearchParams(params)}` : "";
  return `${sessionUrl(token, what)}${query}`;
}

/** The geometry routes' step= (a kept step, when the panels replay one) and box=x0,x1,y0,y1
 * (the panels' view box, when zoomed) for `at` = {step, box}; none for the live square. */
export function atParams(at) {
  const params = {};
  if (at && Number.isInteger(at.step)) params.step = at.step;
  if (at && at.box) params.box = [at.box.x0, at.box.x1, at.box.y0, at.box.y1].join(",");
  if (at && Number.isFinite(at.t)) params.t = at.t; // a clip's moment on screen (cliptime.js)
  return params;
}

/** The region under (x, y): pattern, A, c, autograd check, polygon, area, edges, inequalities. */
export function fetchInspect(token, x, y, at = null) {
  return getJson(sessionPath(token, "inspect", { x, y, ...atParams(at) }), "Inspector");
}

/** Exact partition of the first k hidden layers (all when k is null), at `at` (step, view box):
 *  polygons and colours only (what the overlay draws; the maps of a wide layer would make it ~18x larger). */
export function fetchRegions(token, k = null, at = null) {
  const params = { fields: "polygons,colors", ...(k ? { layers: k } : {}), ...atParams(at) };
  return getJson(sessionPath(token, "regions.json", params), "Exact partition");
}

/** {counts: [k = 1..L], complete, reason, step} */
export function fetchLayerCounts(token) {
  return getJson(sessionPath(token, "layer-counts"), "Region counts");
}

/** {segments: [[[x0, y0], [x1, y1]], ...]} where neuron j of hidden layer l (1-based) switches. */
export function fetchNeuronLine(token, layer, neuron, at = null) {
  return getJson(sessionPath(token, "neuron-line", { layer, neuron, ...atParams(at) }), "Neuron line");
}

/** The network's weights for the diagram where the server draws: {step, widths, in_dim (2: a clip's
 *  network comes sliced at t), out_dim, negative_slope, weights: [...]}, at `at` (step, t). */
export function fetchWeights(token, at = null, { whole = false } = {}) {
  // whole: a clip's network as it is, inputs (x, y, t), not its slice at the moment t
  const params = whole ? { ...atParams(at && { step: at.step }), whole: "true" } : atParams(at && { step: at.step, t: at.t });
  return getJson(sessionPath(token, "weights", params), "Network weights");
}

/** The surface routes' step= (a replayed step), t= (a clip's moment) and x0, x1, y0, y1 (a zoomed
 *  box), and `output` (the height the surface panel shows: "channel:i", "luminance", "winner",
 *  "class:i") when given. */
export function surfaceParams(at, output = null) {
  const params = {};
  if (at && Number.isInteger(at.step)) params.step = at.step;
  if (at && Number.isFinite(at.t)) params.t = at.t;
  if (at && at.box) Object.assign(params, { x0: at.box.x0, x1: at.box.x1, y0: at.box.y0, y1: at.box.y1 });
  if (output) params.output = output;
  return params;
}

/** The exact surface of the step, box and moment `at`: an ArrayBuffer, the binary message the
 *  session pushes live (live/connection.js parseFrame reads both). */
export async function fetchSurface(token, at = null) {
  const response = await fetch(sessionPath(token, "surface", surfaceParams(at)), { cache: "no-store" });
  if (!response.ok) throw await failure(response, "Surface");
  return response.arrayBuffer();
}

/** {active, task, fraction, regions, elapsed_s} of the session's running exact computation. */
export function fetchExactProgress(token) {
  return getJson(sessionPath(token, "exact-progress"), "Progress");
}

/** {blob, name}: a file from the session and the name the server gives it (Content-Disposition). */
export async function fetchSessionFile(token, what, params, label) {
  const response = await fetch(sessionPath(token, what, params), { cache: "no-store" });
  if (!response.ok) throw await failure(response, label);
  const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  return { blob: await response.blob(), name: match ? match[1] : null };
}

/** A file from the session as a Blob (rejects with the server's detail). */
export async function fetchSessionBlob(token, what, params, label) {
  const response = await fetch(sessionPath(token, what, params), { cache: "no-store" });
  if (!response.ok) throw await failure(response, label);
  return response.blob();
}

/** A clip's network: exact region counts of the slice at n moments t from -1 to 1 (the chart over t). */
export function fetchCountsOverT(token, n = 17, at = null) {
  const params = { n, ...(at && Number.isInteger(at.step) ? { step: at.step } : {}) };
  return getJson(sessionPath(token, "counts-over-t", params), "Regions over t");
}

// -- the smoothing baseline ---------------------------------------------------------------

/** {sigma, val_loss, network_val_loss, step}: the smoothing baseline at `sigma` pixels. */
export function fetchSmoothing(token, sigma) {
  return getJson(sessionPath(token, "smoothing", { sigma }), "Smoothing baseline");
}

/** Its picture, `size` pixels square. */
export function smoothingPictureUrl(token, sigma, size) {
  return sessionPath(token, "smoothing.png", { sigma, size });
}

// -- runs of a sweep (serve --runs DIR; docs/protocol.md "Runs") -------------------------

/** {folder, runs: [...]}, or null where the server browses no sweep folder. */
export async function fetchRunsIfAny() {
  const response = await fetch("/api/runs", { headers: { Accept: "application/json" }, cache: "no-store" });
  return response.ok ? response.json() : null;
}

export function fetchRuns() {
  return getJson("/api/runs", "Runs");
}

function runPath(id, what) {
  return `/api/runs/${encodeURIComponent(id)}/${what}`;
}

/** One run's JSON file: "weights" (the history's index), "metrics" or "churn". */
export function fetchRunJson(id, what) {
  return getJson(runPath(id, what), `run ${id}`);
}

/** One run's weight history, every kept step's float32 weights end to end. */
export async function fetchRunWeights(id) {
  const response = await fetch(runPath(id, "weights.bin"));
  if (!response.ok) throw new Error(`run ${id}: no weight history (HTTP ${response.status})`);
  return response.arrayBuffer();
}
