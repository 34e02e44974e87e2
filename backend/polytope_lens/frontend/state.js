// The whole UI state as one declarative table (like TensorFlow Playground's
// state.ts): every property has a name, a type, a default and a short URL key,
// so the complete configuration round-trips through the query string and a
// link reproduces a run.
//
// kind (the server's settings kinds, GET /api/options "settings"):
//   "network"  – defines the network and its data; a change starts a fresh network (`configure`)
//   "training" – applied to the running network with `set`
//   "view"     – how frames are drawn (`view`); never touches training

export const RESOLUTIONS = [128, 256, 512, 1024];

export const PROPERTIES = [
  { name: "image", key: "img", type: "string", default: "ring", kind: "network", maxLength: 200 },
  { name: "color", key: "color", type: "bool", default: false, kind: "network" },
  { name: "layers", key: "layers", type: "string", default: "14x6", kind: "network", maxLength: 200 },
  { name: "activation", key: "act", type: "enum", options: ["relu", "leaky_relu"], default: "relu", kind: "network" },
  { name: "negative_slope", key: "slope", type: "number", default: 0.01, min: 0, max: 1, exclusive: true, kind: "network" },
  { name: "optimizer", key: "opt", type: "enum", options: ["adam", "sgd", "sgd_momentum", "rmsprop"], default: "adam", kind: "training" },
  { name: "lr", key: "lr", type: "number", default: 1e-3, min: 0, max: 10, exclusiveMin: true, kind: "training" },
  { name: "momentum", key: "mom", type: "number", default: 0.9, min: 0, max: 1, exclusiveMax: true, kind: "training" },
  { name: "batch_size", key: "batch", type: "int", default: 1024, min: 1, max: 1048576, kind: "training" },
  { name: "train_points", key: "ntrain", type: "int", default: 5000, min: 1, max: 1048576, kind: "network" },
  { name: "val_points", key: "nval", type: "int", default: 1000, min: 1, max: 1048576, kind: "network" },
  { name: "seed", key: "seed", type: "int", default: 0, min: 0, max: 2147483647, kind: "network" },
  { name: "resolution", key: "res", type: "int", default: 512, min: 16, max: 1024, kind: "view" },
  { name: "fill_regions", key: "fill", type: "bool", default: false, kind: "view" },
  { name: "boundaries", key: "bnd", type: "bool", default: true, kind: "view" },
];

export const BY_NAME = Object.fromEntries(PROPERTIES.map((p) => [p.name, p]));

/** A value of the right type for `prop`, or undefined when `raw` is not acceptable. */
export function coerce(prop, raw) {
  if (raw === null || raw === undefined) return undefined;
  switch (prop.type) {
    case "bool": {
      if (typeof raw === "boolean") return raw;
      const s = String(raw).trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(s)) return true;
      if (["0", "false", "no", "off"].includes(s)) return false;
      return undefined;
    }
    case "enum": {
      const s = String(raw).trim();
      return prop.options.includes(s) ? s : undefined;
    }
    case "int": {
      const s = String(raw).trim();
      if (!/^\d+$/.test(s)) return undefined;
      const n = Number(s);
      if (!Number.isSafeInteger(n)) return undefined;
      if (prop.min !== undefined && n < prop.min) return undefined;
      if (prop.max !== undefined && n > prop.max) return undefined;
      return n;
    }
    case "number": {
      const s = String(raw).trim();
      if (s === "") return undefined;
      const n = Number(s);
      if (!Number.isFinite(n)) return undefined;
      const lowOpen = prop.exclusive || prop.exclusiveMin;
      const highOpen = prop.exclusive || prop.exclusiveMax;
      if (prop.min !== undefined && (lowOpen ? n <= prop.min : n < prop.min)) return undefined;
      if (prop.max !== undefined && (highOpen ? n >= prop.max : n > prop.max)) return undefined;
      return n;
    }
    default: {
      const s = String(raw);
      if (!s.trim()) return undefined;
      if (prop.maxLength !== undefined && s.length > prop.maxLength) return undefined;
      return s.trim();
    }
  }
}

/** Built-in defaults, optionally overridden by the server's `/api/options` defaults. */
export function defaultState(serverDefaults = {}) {
  const state = {};
  for (const prop of PROPERTIES) {
    const fromServer = coerce(prop, serverDefaults[prop.name]);
    state[prop.name] = fromServer !== undefined ? fromServer : prop.default;
  }
  return state;
}

/** `base` overridden by whatever valid values the query string carries. */
export function fromQuery(search, base) {
  const params = new URLSearchParams(search);
  const state = { ...base };
  for (const prop of PROPERTIES) {
    if (!params.has(prop.key)) continue;
    const value = coerce(prop, params.get(prop.key));
    if (value !== undefined) state[prop.name] = value;
  }
  return state;
}

function formatValue(prop, value) {
  if (prop.type === "bool") return value ? "1" : "0";
  if (prop.type === "number") return String(Number(value.toPrecision(12)));
  return String(value);
}

/** The query string (with leading "?") for the complete state: every property, so links reproduce. */
export function toQuery(state) {
  const params = new URLSearchParams();
  for (const prop of PROPERTIES) {
    if (state[prop.name] === undefined) continue;
    params.set(prop.key, formatValue(prop, state[prop.name]));
  }
  // URLSearchParams escapes "," and "x" is harmless; keep layer lists readable.
  return "?" + params.toString().replace(/%2C/gi, ",");
}

/** The RunConfig part of the state (network and training settings), as sent in `configure`. */
export function runConfig(state) {
  const config = {};
  for (const prop of PROPERTIES) {
    if (prop.kind === "network" || prop.kind === "training") config[prop.name] = state[prop.name];
  }
  return config;
}

export function kindOf(name) {
  return BY_NAME[name] ? BY_NAME[name].kind : undefined;
}

// -- layer strings --------------------------------------------------------------

const GROUP = /^\s*(\d+)\s*(?:[x×*]\s*(\d+))?\s*$/i;

const MAX_DEPTH = 64; // the server's limit on hidden layers

/** Hidden widths of a layer string ("14x6", "10x10,2,10x3"), or null when it is not one. */
export function parseWidths(spec) {
  const widths = [];
  for (const group of String(spec).split(",")) {
    const m = GROUP.exec(group);
    if (!m) return null;
    const count = m[2] === undefined ? 1 : Number(m[2]);
    if (widths.length + count > MAX_DEPTH) return null;
    for (let i = 0; i < count; i++) widths.push(Number(m[1]));
  }
  return widths;
}

/** {width, depth} when `spec` is a single group "W" or "WxD", else null. */
export function uniformLayers(spec) {
  if (typeof spec !== "string" || spec.includes(",")) return null;
  const m = GROUP.exec(spec);
  if (!m) return null;
  const width = Number(m[1]);
  const depth = m[2] === undefined ? 1 : Number(m[2]);
  if (width < 1 || depth < 1) return null;
  return { width, depth };
}

/** True when `spec` looks like a layer list the server can read (it still validates limits). */
export function looksLikeLayers(spec) {
  if (typeof spec !== "string" || !spec.trim()) return false;
  return spec.split(",").every((group) => {
    const m = GROUP.exec(group);
    return m !== null && Number(m[1]) > 0 && (m[2] === undefined || Number(m[2]) > 0);
  });
}
