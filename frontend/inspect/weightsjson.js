// A network's weights as a person carries them: JSON ({"widths", "out_dim", "in_dim", "layers": [{W, b}]},
// Copy / Paste weights) and a link's hash (#weights=<widths>_<outputs>_<float32 base64url>; a clip's
// network, whose first layer takes (x, y, t), with a "t" before the widths).
// Pure functions of the flat layout the server sends (docs/protocol.md); inspect/handedits.js uses them.

const HASH_KEY = "weights";

/** The flat float32 weights ({widths, outDim, inDim, weights}) as [{W: rows, b}] per layer. */
export function layersOf(net) {
  const sizes = [net.inDim || 2, ...net.widths, net.outDim];
  const layers = [];
  let at = 0;
  for (let l = 1; l < sizes.length; l++) {
    const [rows, cols] = [sizes[l], sizes[l - 1]];
    const W = [];
    for (let r = 0; r < rows; r++) W.push(Array.from(net.weights.subarray(at + r * cols, at + (r + 1) * cols)));
    at += rows * cols;
    layers.push({ W, b: Array.from(net.weights.subarray(at, at + rows)) });
    at += rows;
  }
  return layers;
}

/** A pasted document {layers: [{W, b}, ...]} checked ({layers, widths, outDim, inDim}: the inputs are
 *  the first W's columns, 2 for (x, y), 3 for a clip's (x, y, t)), or an Error saying what is wrong. */
export function readWeightsDocument(text) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`the pasted text is not JSON (${err.message})`);
  }
  if (!doc || !Array.isArray(doc.layers) || doc.layers.length < 2) {
    throw new Error('expected {"layers": [{"W": [[...]], "b": [...]}, ...]} with hidden layers and the output');
  }
  let cols = null;
  doc.layers.forEach((layer, i) => {
    const { W, b } = layer || {};
    if (!Array.isArray(W) || !W.length || !Array.isArray(b) || b.length !== W.length) {
      throw new Error(`layer ${i + 1}: W needs rows and b one number per row`);
    }
    for (const row of W) {
      if (!Array.isArray(row) || (cols !== null && row.length !== cols) || row.some((v) => !Number.isFinite(v))) {
        throw new Error(`layer ${i + 1}: every row of W needs ${cols ?? "the same number of"} finite numbers`);
      }
    }
    if (b.some((v) => !Number.isFinite(v))) throw new Error(`layer ${i + 1}: b needs finite numbers`);
    if (i === 0 && W[0].length !== 2 && W[0].length !== 3) {
      throw new Error("layer 1 takes the inputs (x, y), or a clip's (x, y, t): W needs 2 or 3 columns");
    }
    cols = W.length;
  });
  const inDim = doc.layers[0].W[0].length;
  if (doc.in_dim !== undefined && doc.in_dim !== inDim) {
    throw new Error(`in_dim says ${doc.in_dim} inputs but layer 1's W has ${inDim} columns`);
  }
  return { layers: doc.layers, widths: doc.layers.slice(0, -1).map((l) => l.W.length), outDim: doc.layers.at(-1).W.length, inDim };
}

function toBase64Url(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const raw = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** "#weights=<widths joined by .>_<outputs>_<float32 little-endian, base64url>" for a network ("t"
 *  before the widths for a clip's network of inputs (x, y, t)). */
export function weightsHash(net) {
  const flat = new Float32Array(net.weights);
  const bytes = new Uint8Array(flat.length * 4);
  const view = new DataView(bytes.buffer);
  flat.forEach((v, i) => view.setFloat32(4 * i, v, true));
  const clip = (net.inDim || 2) === 3 ? "t" : "";
  return `#${HASH_KEY}=${clip}${net.widths.join(".")}_${net.outDim}_${toBase64Url(bytes)}`;
}

/** The network a link's hash carries ({widths, outDim, inDim, weights}), or null. */
export function netFromHash(hash) {
  const match = new RegExp(`^#${HASH_KEY}=(t?)([0-9.]+)_([0-9]+)_([A-Za-z0-9_-]+)$`).exec(hash || "");
  if (!match) return null;
  const inDim = match[1] ? 3 : 2;
  const widths = match[2].split(".").map(Number);
  const outDim = Number(match[3]);
  let bytes;
  try {
    bytes = fromBase64Url(match[4]);
  } catch (err) {
    return null; // not base64 after all (a link cut short)
  }
  const sizes = [inDim, ...widths, outDim];
  let count = 0;
  for (let l = 1; l < sizes.length; l++) count += sizes[l] * (sizes[l - 1] + 1);
  if (!widths.every((w) => Number.isInteger(w) && w > 0) || bytes.length !== 4 * count) return null;
  const view = new DataView(bytes.buffer);
  const weights = Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
  if (!weights.every(Number.isFinite)) return null;
  return { widths, outDim, inDim, weights };
}
