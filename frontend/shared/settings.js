// The server's settings table: one value per setting, its round trip through the query string
// (so that a link reproduces a run), and the messages built from it by kind.
//
// What a setting is (kind, type, bounds, choices, default) is the server's word,
// read from GET /api/options "settings"; the page keeps only its own short URL
// keys. A setting the server adds appears here by itself, under its own name.
//
// kinds: "network" (a change starts a new network: `configure`), "training"
// (applied to the running network: `set`), "view" (drawing only: `view`).

import { parseWidths } from "./layers.js";

const URL_KEYS = {
  image: "img",
  activation: "act",
  negative_slope: "slope",
  optimizer: "opt",
  momentum: "mom",
  batch_size: "batch",
  train_points: "ntrain",
  val_points: "nval",
  resolution: "res",
  fill_regions: "fill",
  boundaries: "bnd",
};

// View settings the page decides itself rather than keeping in its state: who draws
// (rendermode.js picks it per network; the address may force it with ?render=) and whether the
// exact surface is pushed (while the 3-D surface is on screen: surface/surfaceview.js).
const PAGE_CHOSEN = new Set(["render", "surface"]);

export class OptionsError extends Error {}

function withinBounds(row, n) {
  if (row.min !== undefined && n < row.min) return false;
  if (row.max !== undefined && n > row.max) return false;
  if (row.min_exclusive !== undefined && n <= row.min_exclusive) return false;
  if (row.max_exclusive !== undefined && n >= row.max_exclusive) return false;
  return true;
}

/** A value of the right type for the setting `row`, or undefined when `raw` is not acceptable. */
function coerceRow(row, raw) {
  if (raw === null || raw === undefined) return undefined;
  const s = String(raw).trim();
  switch (row.type) {
    case "bool": {
      if (typeof raw === "boolean") return raw;
      if (["1", "true", "yes", "on"].includes(s.toLowerCase())) return true;
      if (["0", "false", "no", "off"].includes(s.toLowerCase())) return false;
      return undefined;
    }
    case "choice":
      return row.choices.includes(s) ? s : undefined;
    case "int": {
      if (!/^[+-]?\d+$/.test(s)) return undefined;
      const n = Number(s);
      return Number.isSafeInteger(n) && withinBounds(row, n) ? n : undefined;
    }
    case "float": {
      const n = s === "" ? NaN : Number(s);
      return Number.isFinite(n) && withinBounds(row, n) ? n : undefined;
    }
    default: {
      if (!s || (row.max_length !== undefined && s.length > row.max_length)) return undefined;
      return s;
    }
  }
}

const isRgb = (c) => Array.isArray(c) && c.length === 3 && c.every((v) => Number.isInteger(v) && v >= 0 && v <= 255);

/** The drawing facts of GET /api/options (shared/facts.js holds them); throws OptionsError when absent. */
export function readFacts(options) {
  const d = options && options.drawing;
  const colors = ["boundary_color", "region_edge_color", "class_region_edge_color", "decision_color", "class_val_point_color"];
  if (!d || !colors.every((name) => isRgb(d[name])) || !Array.isArray(d.boundary_fade_eighths) || d.boundary_fade_eighths.length !== 10) {
    throw new OptionsError("the server's options have no drawing facts");
  }
  const limits = options.limits || {};
  const { max_classes: maxClasses, max_depth: maxDepth, max_width: maxWidth, max_parameters: maxParameters } = limits;
  if (![maxClasses, maxDepth, maxWidth, maxParameters].every(Number.isInteger)) {
    throw new OptionsError("the server's options have no network limits");
  }
  return Object.freeze({
    fadeEighths: Object.freeze([...d.boundary_fade_eighths]),
    boundaryColor: d.boundary_color,
    regionEdgeColor: d.region_edge_color,
    classRegionEdgeColor: d.class_region_edge_color,
    decisionColor: d.decision_color,
    classValPointColor: d.class_val_point_color,
    classLightest: d.class_lightest,
    unlabelledFade: d.unlabelled_fade,
    nearbyFrames: d.nearby_frames,
    maxClasses,
    maxDepth,
    maxWidth,
    maxParameters,
    pointColors: Object.freeze({ ...(options.point_colors || {}) }), // "#rrggbb" by "train", "val"
  });
}

/** The server's settings table and limits, with the page's URL round trip on top. */
export class Settings {
  /** `options`: the answer of GET /api/options; throws OptionsError when it is not one. */
  constructor(options) {
    const rows = options && options.settings;
    if (!Array.isArray(rows) || !rows.every((r) => r && typeof r.name === "string" && typeof r.kind === "string")) {
      throw new OptionsError("the server's options list no settings");
    }
    if (!options.limits || typeof options.limits !== "object") throw new OptionsError("the server's options have no limits");
    this.rows = new Map(rows.filter((row) => !PAGE_CHOSEN.has(row.name)).map((row) => [row.name, row]));
    this.viewNames = rows.filter((row) => row.kind === "view").map((row) => row.name); // page-chosen ones too
    this.limits = options.limits;
    this.facts = readFacts(options);
  }

  row(name) {
    return this.rows.get(name);
  }

  kindOf(name) {
    const row = this.rows.get(name);
    return row ? row.kind : undefined;
  }

  coerce(name, raw) {
    const row = this.rows.get(name);
    return row ? coerceRow(row, raw) : undefined;
  }

  defaults() {
    const state = {};
    for (const row of this.rows.values()) state[row.name] = row.default;
    return state;
  }

  /** The defaults, overridden by whatever valid values the query string carries. */
  fromQuery(search) {
    const params = new URLSearchParams(search);
    const state = this.defaults();
    for (const row of this.rows.values()) {
      const key = URL_KEYS[row.name] || row.name;
      if (!params.has(key)) continue;
      const value = coerceRow(row, params.get(key));
      if (value !== undefined) state[row.name] = value;
    }
    return state;
  }

  /** The query string (with leading "?") for the complete state: every setting, so links reproduce. */
  toQuery(state) {
    const params = new URLSearchParams();
    for (const row of this.rows.values()) {
      const value = state[row.name];
      if (value === undefined) continue;
      let text = String(value);
      if (row.type === "bool") text = value ? "1" : "0";
      else if (row.type === "float") text = String(Number(value.toPrecision(12)));
      params.set(URL_KEYS[row.name] || row.name, text);
    }
    // URLSearchParams escapes ","; layer lists read better without it.
    return "?" + params.toString().replace(/%2C/gi, ",");
  }

  /** The network and training settings of `state`, as `configure` carries them. */
  runConfig(state) {
    const config = {};
    for (const row of this.rows.values()) {
      if (row.kind === "network" || row.kind === "training") config[row.name] = state[row.name];
    }
    return config;
  }

  /** Every `view` setting, as the `view` message carries them: from `state`, or from `chosen` for
   *  those the page decides itself (who draws). */
  viewFields(state, chosen) {
    const fields = {};
    for (const name of this.viewNames) fields[name] = PAGE_CHOSEN.has(name) ? chosen[name] : state[name];
    return fields;
  }

  /** Hidden widths of a layer string within the server's depth limit, or null. */
  widths(spec) {
    return parseWidths(spec, this.limits.max_depth);
  }
}
