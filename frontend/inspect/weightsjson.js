// A network's weights as a person carries them: JSON ({"widths", "out_dim", "layers": [{W, b}]},
// Copy / Paste weights) and a link's hash (#weights=<widths>_<outputs>_<float32 base64url>).
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

/** A pasted document {layers: [{W, b}, ...]} checked, or an Error saying what is wrong. */
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
    if (i === 0 && W[0].length !== 2) throw new Error("layer 1 takes the 2 inputs (x, y): W needs 2 columns");
    cols = W.length;
  });
  return { layers: doc.layers, widths: doc.layers.slice(0, -1).map((l) => l.W.length), outDim: doc.layers.at(-1).W.length };
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

/** "#weights=<widths joined by .>_<outputs>_<float32 little-endian, base64url>" for a network. */
export function weightsHash(net) {
  const flat = new Float32Array(net.weights);
  const bytes = new Uint8Array(flat.length * 4);
  const view = new DataView(bytes.buffer);
  flat.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return `#${HASH_KEY}=${net.widths.join(".")}_${net.outDim}_${toBase64Url(bytes)}`;
}

/** The network a link's hash carries ({widths, outDim, inDim, weights}), or null. */
export function netFromHash(hash) {
  const match = new RegExp(`^#${HASH_KEY}=([0-9.]+)_([0-9]+)_([A-Za-z0-9_-]+)$`).exec(hash || "");
  if (!match) return null;
  const widths = match[1].split(".").map(Number);
  const outDim = Number(match[2]);
  let bytes;
  try {
    bytes = fromBase64Url(match[3]);
  } catch (err) {
    return null; // not base64 after all (a link cut short)
  }
  const sizes = [2, ...widths, outDim];
  let count = 0;
  for (let l = 1; l < sizes.length; l++) count += sizes[l] * (sizes[l - 1] + 1);
  if (!widths.every((w) => Number.isInteger(w) && w > 0) || bytes.length !== 4 * count) return null;
  const view = new DataView(bytes.buffer);
  const weights = Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
  if (!weights.every(Number.isFinite)) return null;
  return { widths, outDim, inDim: 2, weights };
}
