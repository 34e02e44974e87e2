// WebGL2 renderer of an MLP's linear regions: the network is evaluated at every pixel
// centre on the GPU, from its weights alone (the server sends kilobytes, not pictures).
//
//   const r = new MLPRenderer(canvas);            // MLPRenderer.supported() first
//   r.resize(w, h);                                // device pixels = grid points
//   r.setWeights({widths, outDim, negativeSlope, weights});   // wire layout, float32
//   r.setWeights({widths, outDim, slopes, weights});          // a slope per hidden layer (mixed)
//   r.setDisplay({panel: "partition", fillRegions: false, boundaries: true});
//   r.setView({x0: -1, x1: 1, y0: -1, y1: 1});     // redraws once, on the next frame
//
// Passes (each a full-screen triangle):
//   1. evaluate: pattern bits into RGBA32UI targets, 128 bits each; the prediction as float
//      bits (floatBitsToUint) into one more RGBA32UI target (no float-target extension).
//      Hidden neuron h is bit h%32 of word h/32; word w is component w%4 of target w/4,
//      i.e. the same little-endian order as patterns.py's pack_patterns (64-bit word k =
//      32-bit words 2k, 2k+1). Targets are grouped MAX_DRAW_BUFFERS to a pass (8 here: one
//      pass up to 896 neurons, two for 897..1024). Three shader forms, same arithmetic
//      (renderer.form): "unrolled" (small nets: all code written out, weights in a uniform
//      block), "runs" (deep narrow nets: one unrolled body per run of equal layers, in a
//      loop) and "looped" (anything else: generic loops, activations in an array).
//   2. boundary: a pixel whose pattern differs in any bit from an in-image 4-neighbour; and
//      whether it is painted (its right or lower neighbour differs: lines one pixel wide).
//   3. compose onto the canvas, as output/render.py's partition_rgb and prediction_rgb
//      (painted boundary pixels faded where they crowd, output/boundaries.py draw_boundaries); a
//      classifier's (setWeights with classColors) as output/classmap.py's class_map_rgb and
//      class_partition_rgb: the winner's colour shaded by its softmax probability, region
//      boundaries gray, the decision boundary (the winner differs from its left or upper
//      neighbour, widened by one pixel to each side) black over them.
//      Up to 8 outputs: the prediction takes a second RGBA32UI target past 4.
// Pixel centres as grid.py's grid_points: computed in float64 here, uploaded as float32.
// Nothing redraws on a timer: changes ask for one animation frame; render() draws now.
//
// Region colours: patterns.py's pattern_colors exactly. The splitmix64 hash runs on
// pairs of 32-bit uints; the HSV step is exact integer arithmetic: 255 * channel is
// (714+V)(2^17*1275 - (2295+7S)F) / (2^19*1275), so rint() is decided exactly unless the
// value is a tie (k + 1/2), where numpy's float64 rounding decides. The 1,825 ties are
// found and rounded here once, in float64 with numpy's operation order (tieTable).
//
// Limits (fits() checks them): the server's (depth, width, parameters, classes: GET /api/options,
// shared/facts.js) and at most 1024 hidden neurons, so that one compose shader reads all
// pattern words (8 textures); wider nets are left to the server's frames (1024 hidden
// neurons hold at most ~263k parameters, so the parameter limit never binds first).
// Weights: one padded row of texels per neuron (W row, bias, zeros), in an RGBA32F texture
// 2048 texels wide, or a uniform block. About 800 lines: half is generated GLSL (three
// pass-1 forms, the exact colour function), which cannot be shortened without speed.

import { facts } from "../shared/facts.js";

export const LIMITS = Object.freeze({
  maxDepth: facts.maxDepth,
  maxWidth: facts.maxWidth,
  maxParameters: facts.maxParameters,
  maxHidden: 1024,
  maxOutputs: facts.maxClasses, // a classifier's classes (the server's class limit)
});

const TEX_W = 2048; // weight texture width: the WebGL2 minimum of MAX_TEXTURE_SIZE
// Most weight texels an unrolled shader holds as code (all of a net's when fully unrolled,
// one body per run otherwise: unrolledTexels). Compile time grows with it, ~1-2 ms a texel
// on SwiftShader, and a fully unrolled 3000 lost the context. Fully unrolled: 14x6 (352),
// 10x10,2,10x3 (444); in runs: 20x40 (146 of 4724), 32x8 (329); looped: 64x4 (1152).
const UNROLL_TEXELS = 640;
// Edge colours, the boundary fading (a painted pixel's opacity in eighths by the painted pixels in
// its 3x3 neighbourhood, so lines denser than pixels fade instead of filling the panel) and the
// class map's lightest shade are the server's (GET /api/options "drawing", shared/facts.js).
const MODE_PREDICTION = 0, MODE_PARTITION = 1, MODE_REGIONS = 2; // compose shader uMode

// -- network layout ----------------------------------------------------------------------
function layout(widths, outDim) {
  const sizes = [2, ...widths, outDim];
  const layers = [];
  let base = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const nIn = sizes[l], nOut = sizes[l + 1];
    const stride = (nIn + 4) >> 2; // texels per row: nIn weights and the bias
    layers.push({ base, stride, nIn, nOut });
    base += ((nOut + 3) & ~3) * stride; // rows padded to 4: four neurons per loop step
  }
  const hidden = widths.reduce((a, b) => a + b, 0);
  const params = layers.reduce((a, L) => a + L.nOut * (L.nIn + 1), 0);
  const slots = Math.max(...sizes.map((n) => (n + 4) >> 2));
  return { widths: [...widths], outDim, layers, texels: base, hidden, params, slots, targets: Math.ceil(hidden / 128),
    predTargets: outDim > 4 ? 2 : 1 };
}

function checkLimits(widths, outDim) {
  if (!Array.isArray(widths) || widths.length < 1 || widths.length > LIMITS.maxDepth) return `1..${LIMITS.maxDepth} hidden layers`;
  if (!widths.every((w) => Number.isInteger(w) && w >= 1 && w <= LIMITS.maxWidth)) return `widths must be 1..${LIMITS.maxWidth}`;
  if (!Number.isInteger(outDim) || outDim < 1 || outDim > LIMITS.maxOutputs) return `outputs must be 1..${LIMITS.maxOutputs}`;
  const lay = layout(widths, outDim);
  if (lay.params > LIMITS.maxParameters) return `${lay.params} parameters, past ${LIMITS.maxParameters}`;
  if (lay.hidden > LIMITS.maxHidden) return `${lay.hidden} hidden neurons, past the renderer's ${LIMITS.maxHidden}`;
  return null;
}

// The wire layout (per layer W out x in row-major, then b) into padded texel rows.
function packWeights(lay, weights) {
  const out = new Float32Array(4 * TEX_W * Math.ceil(lay.texels / TEX_W));
  let src = 0;
  for (const L of lay.layers) {
    for (let j = 0; j < L.nOut; j++) out.set(weights.subarray(src + j * L.nIn, src + (j + 1) * L.nIn), 4 * (L.base + j * L.stride));
    src += L.nOut * L.nIn;
    for (let j = 0; j < L.nOut; j++) out[4 * (L.base + j * L.stride) + L.nIn] = weights[src + j];
    src += L.nOut;
  }
  return out;
}

// Passes of pass 1: targets [bits 0..T-1, prediction (1 or 2 targets, kept in one pass)], at
// most maxTargets each; a pass without the prediction stops after the last layer whose bits it writes.
function planPasses(lay, maxTargets) {
  const passes = [];
  const add = (t0, t1, pred) => {
    const lo = 128 * t0, hi = Math.min(128 * t1, lay.hidden);
    let needed = lay.widths.length, seen = 0;
    if (!pred) for (needed = 0; seen < hi; needed++) seen += lay.widths[needed];
    passes.push({ t0, t1, lo, hi, pred, pred2: pred && lay.predTargets > 1, layers: needed });
  };
  let t0 = 0;
  while (lay.targets - t0 + lay.predTargets > maxTargets) {
    const t1 = Math.min(lay.targets, t0 + maxTargets);
    add(t0, t1, false);
    t0 = t1;
  }
  add(t0, lay.targets, true);
  return passes;
}

// -- the exact colour function's ties ----------------------------------------------------
const gcd = (a, b) => (b ? gcd(b, a % b) : a);

function rintHalfEven(x) {
  const f = Math.floor(x), d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

// Sorted [key, value] pairs, key = F<<16 | S<<8 | V (S = 0 when F = 0: v ignores S), for
// the (F, S, V) where 255 * channel is exactly k + 1/2; value = numpy's rint of its
// float64 computation (hsv in patterns.py, same operations in the same order).
let tieCache = null;
export function tieTable() {
  if (tieCache) return tieCache;
  const map = new Map();
  for (let S = 0; S < 256; S++) {
    for (let V = 0; V < 256; V++) {
      const a = 714 + V, G = a * (2295 + 7 * S);
      const e = 31 - Math.clz32(G & -G); // 2-adic valuation of G
      // a tie needs 1275 | G*F and 2^17 | G*F/1275
      const step = (1275 / gcd(G, 1275)) * 2 ** Math.max(0, 17 - e);
      for (let F = 0; F <= 32768; F += step) {
        const Z = a * 131072 - (G * F) / 1275 + 262144;
        if (Z % 524288 !== 0) continue;
        const s = 0.45 + (0.35 * S) / 255, v = 0.7 + (0.25 * V) / 255;
        map.set(F * 65536 + (F ? S : 0) * 256 + V, rintHalfEven(v * (1 - s * (F / 32768)) * 255));
      }
    }
  }
  tieCache = [...map.entries()].sort((x, y) => x[0] - y[0]);
  return tieCache;
}

// -- GLSL ---------------------------------------------------------------------------------
const HEAD = "#version 300 es\nprecision highp float;\nprecision highp int;\nprecision highp sampler2D;\nprecision highp usampler2D;\n";
const VERTEX = `#version 300 es
void main() { gl_Position = vec4(gl_VertexID == 1 ? 3.0 : -1.0, gl_VertexID == 2 ? 3.0 : -1.0, 0.0, 1.0); }`;

// Declarations and final writes of a pass's outputs: its bit targets, then the prediction.
function passOutputs(pass) {
  const decl = [], write = [];
  for (let i = 0; i < pass.t1 - pass.t0; i++) {
    decl.push(`layout(location = ${i}) out uvec4 o${i};`);
    write.push(`o${i} = uvec4(bits[${4 * i}], bits[${4 * i + 1}], bits[${4 * i + 2}], bits[${4 * i + 3}]);`);
  }
  if (pass.pred) decl.push(`layout(location = ${decl.length}) out uvec4 oPred;`);
  if (pass.pred2) decl.push(`layout(location = ${decl.length}) out uvec4 oPred2;  // outputs 4..7`);
  const nb = 4 * (pass.t1 - pass.t0);
  const init = nb ? `uint bits[${nb}];\n  for (int i = 0; i < ${nb}; i++) bits[i] = 0u;` : "";
  return { decl: decl.join("\n"), write: write.join("\n  "), init };
}

const INPUT = "vec4(texelFetch(uXY, ivec2(p.x, 0), 0).r, texelFetch(uXY, ivec2(p.y, 1), 0).r, 1.0, 0.0)";
// The negative slope of each hidden layer (0: ReLU): a network opened from a file may mix them.
const passHead = (lay) => `uniform sampler2D uXY;  // R32F: row 0 x of each column, row 1 y of each row (bottom up)
uniform float uSlopes[${lay.widths.length}];`;

// Pass 1, looped form (any net within the limits): weights from the RGBA32F texture,
// activations in a local array. Each step dots input slot k with rows j..j+3 of a layer.
function loopedSource(lay, pass) {
  const out = passOutputs(pass);
  const setBits = [0, 1, 2, 3].map((c) => `if (j + ${c} < L.w && g + j + ${c} >= ${pass.lo} && g + j + ${c} < ${pass.hi}) bits[(g + j + ${c} - ${pass.lo}) >> 5] |= uint(z[${c}] > 0.0) << uint((g + j + ${c}) & 31);`);
  const rowDots = "vec4(dot(wt(t + k), a), dot(wt(t + L.y + k), a), dot(wt(t + 2 * L.y + k), a), dot(wt(t + 3 * L.y + k), a))";
  return `${HEAD}
uniform sampler2D uW;
uniform ivec4 uL[${lay.layers.length}];  // per layer: first texel, texels per row, inputs, outputs
${passHead(lay)}
${out.decl}
const int SLOTS = ${lay.slots};
vec4 buf[2 * SLOTS];  // activations (and a 1.0 for the bias) of the current and next layer
vec4 wt(int t) { return texelFetch(uW, ivec2(t & ${TEX_W - 1}, t >> ${Math.log2(TEX_W)}), 0); }
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  buf[0] = ${INPUT};
  ${out.init}
  int cur = 0, g = 0;
  for (int l = 0; l < ${pass.layers}; l++) {
    ivec4 L = uL[l];
    int nxt = SLOTS - cur;
    for (int j = 0; j < L.w; j += 4) {
      vec4 z = vec4(0.0);
      int t = L.x + j * L.y;
      for (int k = 0; k < L.y; k++) { vec4 a = buf[cur + k]; z += ${rowDots}; }
      ${out.init ? setBits.join("\n      ") : ""}
      buf[nxt + (j >> 2)] = mix(uSlopes[l] * z, z, greaterThan(z, vec4(0.0)));  // (leaky) ReLU, as torch
    }
    int n = L.w;  // the bias input of the next layer: a 1.0 after the last activation
    vec4 one = vec4(equal(ivec4(0, 1, 2, 3), ivec4(n & 3)));
    buf[nxt + (n >> 2)] = (n & 3) == 0 ? one : buf[nxt + (n >> 2)] + one;
    cur = nxt;
    g += L.w;
  }
  ${pass.pred ? `{
    ivec4 L = uL[${lay.layers.length - 1}];
    vec4 z = vec4(0.0);
    int t = L.x;
    for (int k = 0; k < L.y; k++) { vec4 a = buf[cur + k]; z += ${rowDots}; }
    oPred = floatBitsToUint(z);${pass.pred2 ? `
    z = vec4(0.0);
    t = L.x + 4 * L.y;
    for (int k = 0; k < L.y; k++) { vec4 a = buf[cur + k]; z += ${rowDots}; }
    oPred2 = floatBitsToUint(z);` : ""}
  }` : ""}
  ${out.write}
}`;
}

// Runs of consecutive hidden layers with the same shape (14x6 is 2->14, 5 x 14->14), or
// every layer on its own (merge = false).
function layerRuns(lay, count, merge = true) {
  const runs = [];
  for (let l = 0; l < count; l++) {
    const L = lay.layers[l], last = runs[runs.length - 1];
    if (merge && last && last.nIn === L.nIn && last.nOut === L.nOut) last.count++;
    else runs.push({ ...L, count: 1 });
  }
  return runs;
}

// Shader size of the unrolled form, in weight texels: one body per run, plus the output.
function unrolledTexels(lay) {
  const body = (L) => L.nOut * L.stride;
  return layerRuns(lay, lay.layers.length - 1).reduce((a, r) => a + body(r), body(lay.layers[lay.layers.length - 1]));
}

// Pass 1, unrolled form: activations in registers (vec4 a0, a1, ...), every index inside a
// layer body a constant; same sums in the same order as the looped form, padding rows
// skipped. Small nets (inBlock): every layer written out, weights from a uniform block at
// constant indices. Otherwise each run of equal layers is one body in a loop, weights from
// the texture (a uniform block read at a loop-dependent index is slow on SwiftShader).
function unrolledSource(lay, pass, inBlock) {
  const out = passOutputs(pass);
  const lines = [`vec4 ${[...Array(lay.slots).keys()].map((k) => `a${k} = vec4(0.0)`).join(", ")};`, `a0 = ${INPUT};`];
  // Literal indices where the layer is known (Subzero, SwiftShader's compiler, folds little).
  const at = (base, offset) => (base === null ? `b + ${offset}` : `${base + offset}`);
  const body = (L, base) => {
    const groups = (L.nOut + 3) >> 2, code = [];
    for (let q = 0; q < groups; q++) {
      const terms = [];
      for (let k = 0; k < L.stride; k++) {
        const dots = [0, 1, 2, 3].map((c) => (4 * q + c < L.nOut ? `dot(wt(${at(base, (4 * q + c) * L.stride + k)}), a${k})` : "0.0"));
        terms.push(`vec4(${dots.join(", ")})`);
      }
      code.push(`vec4 z${q} = ${terms.join(" + ")};`);
    }
    return code;
  };
  let g = 0, li = 0; // li: the run's first hidden layer
  for (const run of layerRuns(lay, pass.layers, !inBlock)) {
    const slope = run.count > 1 ? `uSlopes[${li} + i]` : `uSlopes[${li}]`;
    const texels = ((run.nOut + 3) & ~3) * run.stride, words = (run.nOut + 31) >> 5, loop = run.count > 1;
    const code = body(run, loop ? null : run.base);
    if (!loop) {  // pattern bits straight into their words
      for (let j = 0; j < run.nOut; j++) {
        const n = g + j;
        if (n >= pass.lo && n < pass.hi) code.push(`bits[${(n - pass.lo) >> 5}] |= uint(z${j >> 2}[${j & 3}] > 0.0) << ${n & 31}u;`);
      }
    } else {  // this layer's bits, then ORed into bits[] at the layer's offset
      code.push(`uint ${[...Array(words).keys()].map((w) => `m${w} = 0u`).join(", ")};`);
      for (let j = 0; j < run.nOut; j++) code.push(`m${j >> 5} |= uint(z${j >> 2}[${j & 3}] > 0.0) << ${j & 31}u;`);
    }
    for (let q = 0; q < (run.nOut + 3) >> 2; q++) {
      const bias = q === run.nOut >> 2 ? ` + vec4(${[0, 1, 2, 3].map((c) => (c === (run.nOut & 3) ? "1.0" : "0.0"))})` : "";
      code.push(`a${q} = mix(${slope} * z${q}, z${q}, greaterThan(z${q}, vec4(0.0)))${bias};  // (leaky) ReLU, as torch`);
    }
    if ((run.nOut & 3) === 0) code.push(`a${run.nOut >> 2} = vec4(1.0, 0.0, 0.0, 0.0);  // the next layer's bias input`);
    if (out.init && loop) {
      code.push(`int at = ${g - pass.lo} + i * ${run.nOut}, q = at >> 5;  // bit position in this pass`);
      code.push("uint s = uint(at & 31), r = 32u - s;");
      for (let w = 0; w <= words; w++) {
        const lo = w < words ? `(m${w} << s)` : "0u", hi = w > 0 ? `(s == 0u ? 0u : m${w - 1} >> r)` : "0u";
        code.push(`if (q + ${w} >= 0 && q + ${w} < ${4 * (pass.t1 - pass.t0)}) bits[q + ${w}] |= ${lo} | ${hi};`);
      }
    }
    const head = loop ? [`for (int i = 0; i < ${run.count}; i++) {`, `  int b = ${run.base} + i * ${texels};`] : ["{"];
    lines.push(...head, ...code.map((c) => `  ${c}`), "}");
    g += run.nOut * run.count;
    li += run.count;
  }
  if (pass.pred) {
    const L = lay.layers[lay.layers.length - 1];
    lines.push("{", ...body(L, L.base), "oPred = floatBitsToUint(z0);", ...(pass.pred2 ? ["oPred2 = floatBitsToUint(z1);"] : []), "}");
  }
  const weights = inBlock
    ? `layout(std140) uniform Weights { vec4 uWb[${lay.texels}]; };\nvec4 wt(int t) { return uWb[t]; }`
    : `uniform sampler2D uW;\nvec4 wt(int t) { return texelFetch(uW, ivec2(t & ${TEX_W - 1}, t >> ${Math.log2(TEX_W)}), 0); }`;
  return `${HEAD}
${weights}
${passHead(lay)}
${out.decl}
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  ${out.init}
  ${lines.join("\n  ")}
  ${out.write}
}`;
}

const bitSamplers = (T) => [...Array(T).keys()].map((i) => `uniform usampler2D uB${i};`).join("\n");

function boundarySource(T) {
  const fetches = (q) => [...Array(T).keys()].map((i) => `all(equal(texelFetch(uB${i}, ${q}, 0), c${i}))`).join(" && ");
  return `${HEAD}
${bitSamplers(T)}
layout(location = 0) out uvec4 oEdge;
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy), size = textureSize(uB0, 0);
  ${[...Array(T).keys()].map((i) => `uvec4 c${i} = texelFetch(uB${i}, p, 0);`).join(" ")}
  // image rows run top down, GL rows bottom up: the image's lower neighbour is p - (0, 1)
  bool right = p.x + 1 < size.x && !(${fetches("p + ivec2(1, 0)")});
  bool below = p.y > 0 && !(${fetches("p - ivec2(0, 1)")});
  bool edge = right || below
    || (p.x > 0 && !(${fetches("p - ivec2(1, 0)")}))
    || (p.y + 1 < size.y && !(${fetches("p + ivec2(0, 1)")}));
  // bit 0: a boundary pixel (grid.py boundary_mask); bit 1: painted (output/boundaries.py boundary_lines)
  oEdge = uvec4((edge ? 1u : 0u) | (right || below ? 2u : 0u));
}`;
}

// The classifier's part of the compose shader: only compiled into a classifier's program, since a
// software rasterizer (SwiftShader) pays for the code of a branch it does not take.
const CLASSIFIER_GLSL = `// A classifier (classmap.py): scores at a pixel, the winner (the first of equal maxima, as
// numpy's argmax), its colour shaded by the softmax probability, and the decision boundary.
void scoresAt(ivec2 q, out float s[8]) {
  vec4 a = uintBitsToFloat(texelFetch(uPred, q, 0)), b = uintBitsToFloat(texelFetch(uPred2, q, 0));
  s[0] = a.x; s[1] = a.y; s[2] = a.z; s[3] = a.w; s[4] = b.x; s[5] = b.y; s[6] = b.z; s[7] = b.w;
}
int winnerOf(float s[8]) {
  int w = 0;
  for (int k = 1; k < 8; k++) if (k < uClasses && s[k] > s[w]) w = k;
  return w;
}
int winnerAt(ivec2 q) { float s[8]; scoresAt(q, s); return winnerOf(s); }
vec3 classColor(ivec2 p) {  // class_map_rgb
  float s[8];
  scoresAt(p, s);
  int w = winnerOf(s);
  float sum = 0.0;
  for (int k = 0; k < 8; k++) if (k < uClasses) sum += exp(s[k] - s[w]);
  float K = float(uClasses), prob = 1.0 / sum;
  float share = ${facts.classLightest.toFixed(2)} + (1.0 - ${facts.classLightest.toFixed(2)}) * clamp((prob - 1.0 / K) / (1.0 - 1.0 / K), 0.0, 1.0);
  return clamp(roundEven(uClassColors[w] * share + 255.0 * (1.0 - share)), 0.0, 255.0);
}
// decision_mask before widening: the winner differs from the left or the upper neighbour (rows
// run bottom up here: the upper one is y + 1).
bool changesAt(ivec2 q, ivec2 size) {
  int w = winnerAt(q);
  return (q.x > 0 && w != winnerAt(q - ivec2(1, 0))) || (q.y + 1 < size.y && w != winnerAt(q + ivec2(0, 1)));
}
bool decisionAt(ivec2 p) {  // widened by one pixel to the four sides (DECISION_WIDTH 3)
  ivec2 size = textureSize(uPred, 0);
  return changesAt(p, size) || (p.x > 0 && changesAt(p - ivec2(1, 0), size)) || (p.x + 1 < size.x && changesAt(p + ivec2(1, 0), size))
    || (p.y > 0 && changesAt(p - ivec2(0, 1), size)) || (p.y + 1 < size.y && changesAt(p + ivec2(0, 1), size));
}

`;

function composeSource(T, classify) {
  return `${HEAD}
${bitSamplers(T)}
uniform usampler2D uPred, uPred2, uEdge, uTies;  // uPred2: outputs 4..7 of a classifier
uniform int uMode;        // 0 prediction, 1 partition over the prediction, 2 region colours
uniform int uClasses;     // a classifier's class count (its outputs), 0 for a regression
uniform vec3 uClassColors[8];  // 0..255
uniform bool uEdges;
uniform vec3 uEdgeColor;  // 0..255
uniform int uWords;       // 64-bit pattern words (patterns.py words_per_pattern)
uniform int uChannels;
uniform int uTieCount;
layout(location = 0) out vec4 oColor;

// 64-bit unsigned arithmetic on uvec2(low, high), wrapping as numpy's uint64 does.
uvec2 mul32(uint a, uint b) {
  uint a0 = a & 0xFFFFu, a1 = a >> 16, b0 = b & 0xFFFFu, b1 = b >> 16;
  uint p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  uint mid = (p00 >> 16) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu);
  return uvec2((mid << 16) | (p00 & 0xFFFFu), p11 + (p01 >> 16) + (p10 >> 16) + (mid >> 16));
}
uvec2 mul64(uvec2 a, uvec2 b) { uvec2 p = mul32(a.x, b.x); p.y += a.x * b.y + a.y * b.x; return p; }
uvec2 shr64(uvec2 a, uint n) { return uvec2((a.x >> n) | (a.y << (32u - n)), a.y >> n); }
uvec2 mix64(uvec2 h) {  // patterns.py _mix64 (splitmix64 finaliser)
  h ^= shr64(h, 30u);
  h = mul64(h, uvec2(0x1CE4E5B9u, 0xBF58476Du));
  h ^= shr64(h, 27u);
  h = mul64(h, uvec2(0x133111EBu, 0x94D049BBu));
  return h ^ shr64(h, 31u);
}

// rint(255 * v * (1 - s * F/32768)) for s, v from the hash bytes S, V: exact (see the header).
uint channel(uint F, uint S, uint V) {
  uint a = 714u + V, G = a * (2295u + 7u * S);
  uint g1 = G / 1275u, g0 = G - g1 * 1275u, m = g0 * F, mq = m / 1275u;
  uint Z = (a << 17) - (g1 * F + mq) + (1u << 18);
  if (m != mq * 1275u) return (Z - 1u) >> 19;
  if ((Z & 0x7FFFFu) != 0u) return Z >> 19;
  uint key = (F << 16) | ((F == 0u ? 0u : S) << 8) | V;
  int lo = 0, hi = uTieCount;
  for (int i = 0; i < 12 && lo < hi; i++) {
    int mid = (lo + hi) >> 1;
    uvec2 e = texelFetch(uTies, ivec2(mid, 0), 0).rg;
    if (e.r == key) return e.g;
    if (e.r < key) lo = mid + 1; else hi = mid;
  }
  return Z >> 19;  // unreachable: every tie is in the table
}

uvec3 regionColor(ivec2 p) {
  uint w[${4 * T}];
  ${[...Array(T).keys()].map((i) => `{ uvec4 q = texelFetch(uB${i}, p, 0); w[${4 * i}] = q.x; w[${4 * i + 1}] = q.y; w[${4 * i + 2}] = q.z; w[${4 * i + 3}] = q.w; }`).join("\n  ")}
  uvec2 h = uvec2(0x7F4A7C15u, 0x9E3779B9u);
  for (int k = 0; k < uWords; k++) h = mix64(h ^ uvec2(w[2 * k], w[2 * k + 1]));
  uint H = h.x & 0xFFFFu, S = (h.x >> 16) & 0xFFu, V = h.x >> 24;
  uint i = (6u * H) >> 16, F = (3u * H) & 0x7FFFu;  // hue sector and fraction * 32768
  uint v = channel(0u, S, V), p_ = channel(32768u, S, V), q = channel(F, S, V), t = channel(32768u - F, S, V);
  if (i == 0u) return uvec3(v, t, p_);
  if (i == 1u) return uvec3(q, v, p_);
  if (i == 2u) return uvec3(p_, v, t);
  if (i == 3u) return uvec3(p_, q, v);
  if (i == 4u) return uvec3(t, p_, v);
  return uvec3(v, p_, q);
}

${classify ? CLASSIFIER_GLSL : ""}void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  vec3 rgb;
  if (uMode == 2) {
    rgb = vec3(regionColor(p));
  }${classify ? " else if (uClasses > 0) {\n    rgb = classColor(p);\n  }" : ""} else {  // render.py prediction_rgb: clip(rint(prediction * 255), 0, 255), grey repeated
    vec4 y = uintBitsToFloat(texelFetch(uPred, p, 0));
    rgb = clamp(roundEven((uChannels == 1 ? y.rrr : y.rgb) * 255.0), 0.0, 255.0);
  }
  if (uMode != 0 && uEdges && (texelFetch(uEdge, p, 0).r & 2u) != 0u) {
    // output/boundaries.py draw_boundaries: opacity in eighths by the painted pixels around, exact integers
    ivec2 size = textureSize(uEdge, 0);
    uint crowd = 0u;
    for (int dy = -1; dy <= 1; dy++) {
      for (int dx = -1; dx <= 1; dx++) {
        ivec2 q = p + ivec2(dx, dy);
        if (all(greaterThanEqual(q, ivec2(0))) && all(lessThan(q, size))) crowd += (texelFetch(uEdge, q, 0).r >> 1) & 1u;
      }
    }
    const uint FADE[10] = uint[10](${facts.fadeEighths.map((a) => `${a}u`).join(", ")});
    uint a = FADE[crowd];
    rgb = vec3((uvec3(rgb) * (8u - a) + uvec3(uEdgeColor) * a + 4u) / 8u);
  }
  ${classify ? `if (uMode != 0 && uClasses > 0 && decisionAt(p)) rgb = vec3(${facts.decisionColor.map((c) => c.toFixed(1)).join(", ")});` : ""}
  oColor = vec4(rgb / 255.0, 1.0);
}`;
}

// -- the renderer -------------------------------------------------------------------------
export class MLPRenderer {
  /** Whether this browser has WebGL2 at all (the page falls back to server frames if not). */
  static supported() {
    try {
      const gl = document.createElement("canvas").getContext("webgl2");
      gl?.getExtension("WEBGL_lose_context")?.loseContext();
      return !!gl;
    } catch {
      return false;
    }
  }

  /** {ok, reason}: whether a net ({widths, outDim}) is within the limits (no GL needed). */
  static fits({ widths, outDim = 1 }) {
    const reason = checkLimits(widths, outDim);
    return { ok: !reason, reason };
  }

  /** options.maxDrawBuffers caps the targets per pass (tests use it to force several passes);
   *  options.manual: never redraw by itself (the page copies the result into its panels). */
  constructor(canvas, options = {}) {
    this.canvas = canvas;
    this.options = options;
    this.view = { x0: -1, x1: 1, y0: -1, y1: 1 };
    this.display = { panel: "partition", fillRegions: false, boundaries: true };
    this.net = null; // {lay, passes, slopes, packed}
    this.size = [Math.max(1, canvas.width), Math.max(1, canvas.height)];
    this._frame = 0;
    this._init();
    canvas.addEventListener("webglcontextlost", (e) => { e.preventDefault(); this.gl = null; });
    canvas.addEventListener("webglcontextrestored", () => { this._init(); if (this.net) this._setNet(this.net); this._request(); });
  }

  _init() {
    const gl = this.canvas.getContext("webgl2", { antialias: false, depth: false, stencil: false, alpha: false, premultipliedAlpha: false });
    if (!gl) throw new Error("WebGL2 is not available");
    this.gl = gl;
    this.maxTargets = Math.min(gl.getParameter(gl.MAX_DRAW_BUFFERS), gl.getParameter(gl.MAX_COLOR_ATTACHMENTS), this.options.maxDrawBuffers ?? 8);
    this.maxTexture = gl.getParameter(gl.MAX_TEXTURE_SIZE);
    this.unrollTexels = this.options.unroll === false ? 0 : UNROLL_TEXELS;
    this.blockTexels = gl.getParameter(gl.MAX_UNIFORM_BLOCK_SIZE) / 16;
    this.uniforms = gl.createBuffer(); // weights of unrolled nets that fit one uniform block
    this.vao = gl.createVertexArray();
    this.programs = new Map();
    this.fbo = gl.createFramebuffer();
    const table = tieTable();
    this.tieCount = table.length;
    this.ties = this._texture(gl.RG32UI, table.length, 1, gl.RG_INTEGER, gl.UNSIGNED_INT, new Uint32Array(table.flat()));
    this.targets = null; // {w, h, T, bits[], pred, edge}
    this.weights = null;
    this.coords = null;
    this.stale = { eval: true, edge: true, coords: true };
  }

  /** {ok, reason} for this context: the static limits, then texture sizes. */
  fits(net) {
    const fit = MLPRenderer.fits(net);
    if (!fit.ok) return fit;
    const rows = Math.ceil(layout(net.widths, net.outDim ?? 1).texels / TEX_W);
    if (rows > this.maxTexture) return { ok: false, reason: `weights need ${rows} texture rows, past ${this.maxTexture}` };
    if (Math.max(...this.size) > this.maxTexture) return { ok: false, reason: `canvas past ${this.maxTexture} pixels` };
    return fit;
  }

  /** weights: Float32Array, per layer (hidden layers, then output) W (out x in, row-major) then b.
   *  classColors: a classifier's [[r, g, b], ...] (one per output), drawn as a class map; else null.
   *  slopes: the negative slope of each hidden layer; without it, negativeSlope for all of them. */
  setWeights({ widths, outDim = 1, negativeSlope = 0, slopes = null, weights, classColors = null }) {
    if (classColors && (!Array.isArray(classColors) || classColors.length !== outDim || outDim < 2)) {
      throw new Error(`a classifier needs one colour per output (${outDim}), got ${classColors?.length}`);
    }
    const fit = this.fits({ widths, outDim });
    if (!fit.ok) throw new Error(`network not drawable here: ${fit.reason}`);
    const lay = layout(widths, outDim);
    if (!(weights instanceof Float32Array) || weights.length !== lay.params) {
      throw new Error(`expected a Float32Array of ${lay.params} weights, got ${weights?.length}`);
    }
    const perLayer = slopes ?? widths.map(() => negativeSlope);
    if (!Array.isArray(perLayer) && !(perLayer instanceof Float32Array) || perLayer.length !== widths.length
        || ![...perLayer].every(Number.isFinite)) {
      throw new Error(`expected a finite slope per hidden layer (${widths.length}), got ${JSON.stringify(slopes)}`);
    }
    this._setNet({ lay, passes: planPasses(lay, this.maxTargets), slopes: Float32Array.from(perLayer),
      packed: packWeights(lay, weights), classColors });
    this._request();
  }

  _setNet(net) {
    const gl = this.gl;
    const arch = JSON.stringify([net.lay.widths, net.lay.outDim]);
    if (gl && this.net && JSON.stringify([this.net.lay.widths, this.net.lay.outDim]) !== arch) {
      for (const [key, prog] of this.programs) if (key.startsWith("eval")) { gl.deleteProgram(prog); this.programs.delete(key); }
    }
    this.net = net;
    if (!gl) return; // context lost: uploaded again when it is restored
    // The shader form of pass 1 (see the GLSL section).
    const code = this.unrollTexels;
    net.form = net.lay.texels <= Math.min(code, this.blockTexels) ? "unrolled" : unrolledTexels(net.lay) <= code ? "runs" : "looped";
    this.stale.eval = this.stale.edge = true;
    if (net.form === "unrolled") {
      gl.bindBuffer(gl.UNIFORM_BUFFER, this.uniforms);
      gl.bufferData(gl.UNIFORM_BUFFER, net.packed.subarray(0, 4 * net.lay.texels), gl.DYNAMIC_DRAW);
      return;
    }
    const rows = net.packed.length / (4 * TEX_W);
    if (!this.weights || this.weights.rows !== rows) {
      if (this.weights) gl.deleteTexture(this.weights.tex);
      this.weights = { rows, tex: this._texture(gl.RGBA32F, TEX_W, rows, gl.RGBA, gl.FLOAT, net.packed) };
    } else {
      gl.bindTexture(gl.TEXTURE_2D, this.weights.tex);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEX_W, rows, gl.RGBA, gl.FLOAT, net.packed);
    }
  }

  /** Pass 1's shader form for the current net: "unrolled", "runs" or "looped". */
  get form() {
    return this.net?.form ?? null;
  }

  /** The input box drawn: x0..x1 left to right, y0..y1 bottom to top. */
  setView({ x0 = -1, x1 = 1, y0 = -1, y1 = 1 } = {}) {
    this.view = { x0, x1, y0, y1 };
    this.stale.coords = this.stale.eval = this.stale.edge = true;
    this._request();
  }

  /** Canvas size in device pixels; every pixel is one grid point. */
  resize(width, height) {
    width = Math.max(1, Math.round(width));
    height = Math.max(1, Math.round(height));
    if (width === this.size[0] && height === this.size[1]) return;
    this.size = [width, height];
    this.canvas.width = width;
    this.canvas.height = height;
    this.stale.coords = this.stale.eval = this.stale.edge = true;
    this._request();
  }

  /** panel: "partition" | "prediction"; fillRegions: region colours; boundaries: edges drawn. */
  setDisplay(display) {
    this.display = { ...this.display, ...display };
    this._request();
  }

  // One redraw on the next animation frame, however many changes came before it
  // (none with options.manual: the owner calls render() when it draws).
  _request() {
    if (this._frame || !this.gl || this.options.manual) return;
    this._frame = requestAnimationFrame(() => { this._frame = 0; this.render(); });
  }

  /** Synchronously: evaluate what is stale, then compose onto the canvas. */
  render(display = this.display) {
    if (!this.gl || !this.net) return false;
    this._update();
    this._compose(display, null, this.size);
    return true;
  }

  /** Compose ``display`` and copy it into a 2-D context (another panel), then restore ours. */
  drawTo(context2d, display) {
    if (!this.render(display)) return false;
    context2d.drawImage(this.canvas, 0, 0, context2d.canvas.width, context2d.canvas.height);
    return this.render();
  }

  _update() {
    const gl = this.gl, [w, h] = this.size, T = this.net.lay.targets, P = this.net.lay.predTargets;
    if (!this.targets || this.targets.w !== w || this.targets.h !== h || this.targets.T !== T || this.targets.P !== P) {
      this._freeTargets();
      const words = () => this._texture(gl.RGBA32UI, w, h, gl.RGBA_INTEGER, gl.UNSIGNED_INT, null);
      const edge = this._texture(gl.R8UI, w, h, gl.RED_INTEGER, gl.UNSIGNED_BYTE, null);
      this.targets = { w, h, T, P, bits: [...Array(T)].map(words), pred: words(), pred2: P > 1 ? words() : null, edge };
      this.stale.eval = this.stale.edge = true;
    }
    if (this.stale.coords) this._uploadCoords();
    if (this.stale.eval) {
      for (const pass of this.net.passes) this._evaluate(pass);
      this.stale.eval = false;
      this.stale.edge = true;
    }
    if (this.stale.edge) {
      const prog = this._program(`edge${T}`, () => boundarySource(T));
      this._bindBits(prog, this.targets.bits);
      this._draw(prog, [this.targets.edge], [w, h]);
      this.stale.edge = false;
    }
  }

  _uploadCoords() {
    const gl = this.gl, [w, h] = this.size, n = Math.max(w, h), v = this.view;
    // grid.py grid_points: lo + (hi - lo) * (2i + 1) / (2n) in float64, then float32.
    const xy = new Float32Array(2 * n);
    for (let i = 0; i < w; i++) xy[i] = v.x0 + ((v.x1 - v.x0) * (2 * i + 1)) / (2 * w);
    for (let i = 0; i < h; i++) xy[n + i] = v.y0 + ((v.y1 - v.y0) * (2 * i + 1)) / (2 * h);
    if (this.coords) gl.deleteTexture(this.coords);
    this.coords = this._texture(gl.R32F, n, 2, gl.RED, gl.FLOAT, xy);
    this.stale.coords = false;
  }

  _evaluate(pass) {
    const gl = this.gl, { lay, slopes, form } = this.net;
    const key = `eval${JSON.stringify([lay.widths, lay.outDim, pass, form])}`;
    const prog = this._program(key, () => (form === "looped" ? loopedSource(lay, pass) : unrolledSource(lay, pass, form === "unrolled")));
    gl.useProgram(prog);
    gl.uniform1fv(prog.loc("uSlopes[0]"), slopes);
    if (form === "unrolled") {
      gl.uniformBlockBinding(prog, gl.getUniformBlockIndex(prog, "Weights"), 0);
      gl.bindBufferBase(gl.UNIFORM_BUFFER, 0, this.uniforms);
    } else {
      this._bindTexture(prog, "uW", 0, this.weights.tex);
    }
    if (form === "looped") gl.uniform4iv(prog.loc("uL[0]"), new Int32Array(lay.layers.flatMap((L) => [L.base, L.stride, L.nIn, L.nOut])));
    this._bindTexture(prog, "uXY", 1, this.coords);
    const outs = this.targets.bits.slice(pass.t0, pass.t1);
    if (pass.pred) outs.push(this.targets.pred);
    if (pass.pred2) outs.push(this.targets.pred2);
    this._draw(prog, outs, this.size);
  }

  _compose(display, fbo, [w, h], bits = this.targets.bits, extra = this.targets) {
    const gl = this.gl, T = bits.length;
    const classes = "classes" in extra ? extra.classes : this.net?.classColors ?? null;
    const prog = this._program(`compose${T}${classes ? "-classify" : ""}`, () => composeSource(T, Boolean(classes)));
    const fill = display.panel !== "prediction" && display.fillRegions;
    gl.useProgram(prog);
    this._bindBits(prog, bits);
    this._bindTexture(prog, "uPred", T, extra.pred);
    this._bindTexture(prog, "uEdge", T + 1, extra.edge);
    this._bindTexture(prog, "uTies", T + 2, this.ties);
    this._bindTexture(prog, "uPred2", T + 3, extra.pred2 || extra.pred); // read only past 4 classes
    gl.uniform1i(prog.loc("uClasses"), classes ? classes.length : 0);
    if (classes) gl.uniform3fv(prog.loc("uClassColors[0]"), new Float32Array([...classes.flat(), ...Array(3 * (8 - classes.length)).fill(0)]));
    gl.uniform1i(prog.loc("uMode"), display.panel === "prediction" ? MODE_PREDICTION : fill ? MODE_REGIONS : MODE_PARTITION);
    gl.uniform1i(prog.loc("uEdges"), display.boundaries ? 1 : 0);
    gl.uniform3fv(prog.loc("uEdgeColor"), classes ? facts.classRegionEdgeColor : fill ? facts.regionEdgeColor : facts.boundaryColor);
    gl.uniform1i(prog.loc("uWords"), extra.words ?? Math.max(1, Math.ceil(this.net.lay.hidden / 64)));
    gl.uniform1i(prog.loc("uChannels"), this.net ? this.net.lay.outDim : 1);
    gl.uniform1i(prog.loc("uTieCount"), this.tieCount);
    gl.bindFramebuffer(gl.FRAMEBUFFER, fbo);
    if (!fbo) gl.drawBuffers([gl.BACK]);
    gl.viewport(0, 0, w, h);
    gl.bindVertexArray(this.vao);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
  }

  // -- readback (tests, debugging): row 0 at the top, like the server's arrays -------------
  /** {words: Uint32Array, wordsPerPixel, width, height}: 2 * words_per_pattern uint32 per
   *  pixel, i.e. pack_patterns' uint64 words as little-endian halves. */
  readPatterns() {
    this._ready();
    const [w, h] = this.size, per = 2 * Math.max(1, Math.ceil(this.net.lay.hidden / 64));
    const words = new Uint32Array(w * h * per);
    this.targets.bits.forEach((tex, t) => {
      const px = this._readTexture(tex, Uint32Array, 4);
      for (let i = 0; i < w * h; i++) for (let c = 0; c < 4 && 4 * t + c < per; c++) words[i * per + 4 * t + c] = px[4 * i + c];
    });
    return { words, wordsPerPixel: per, width: w, height: h };
  }

  /** Uint8Array (h * w), 1 on boundary pixels. */
  readBoundary() {
    this._ready();
    const px = this._readTexture(this.targets.edge, Uint32Array, 4);
    return Uint8Array.from({ length: px.length / 4 }, (_, i) => px[4 * i] & 1);
  }

  /** Float32Array (h * w * outDim): the raw network output. */
  readPrediction() {
    this._ready();
    const C = this.net.lay.outDim, px = new Float32Array(this._readTexture(this.targets.pred, Uint32Array, 4).buffer);
    const px2 = this.targets.pred2 ? new Float32Array(this._readTexture(this.targets.pred2, Uint32Array, 4).buffer) : null;
    return Float32Array.from({ length: (px.length / 4) * C }, (_, i) => {
      const n = Math.floor(i / C), c = i % C;
      return c < 4 ? px[4 * n + c] : px2[4 * n + c - 4];
    });
  }

  /** Uint8Array (h * w * 4) RGBA of the composed panel (``display`` defaults to the current). */
  readImage(display = this.display) {
    this._ready();
    this._compose(display, null, this.size);
    const [w, h] = this.size, px = new Uint8Array(4 * w * h);
    this.gl.bindFramebuffer(this.gl.FRAMEBUFFER, null);
    this.gl.readPixels(0, 0, w, h, this.gl.RGBA, this.gl.UNSIGNED_BYTE, px); // same task: the buffer is intact
    const out = flipRows(px, w, h, 4);
    if (display !== this.display) this._compose(this.display, null, this.size);
    return out;
  }

  /** Region colours (Uint8Array n * 3) of n patterns given as ``words`` (Uint32Array, n *
   *  2 * wordsPerPattern: uint64 words as little-endian halves), through the same shader
   *  as the panel: the unit test of the colour function against patterns.py. */
  colorsOf(words, wordsPerPattern) {
    const gl = this.gl, per = 2 * wordsPerPattern, n = words.length / per, T = Math.ceil(per / 4);
    const w = Math.min(n, 1024), h = Math.ceil(n / w);
    const bits = [...Array(T)].map((_, t) => {
      const data = new Uint32Array(4 * w * h);
      for (let i = 0; i < n; i++) for (let c = 0; c < 4 && 4 * t + c < per; c++) data[4 * i + c] = words[i * per + 4 * t + c];
      return this._texture(gl.RGBA32UI, w, h, gl.RGBA_INTEGER, gl.UNSIGNED_INT, data);
    });
    const pred = this._texture(gl.RGBA32UI, 1, 1, gl.RGBA_INTEGER, gl.UNSIGNED_INT, null);
    const edge = this._texture(gl.R8UI, 1, 1, gl.RED_INTEGER, gl.UNSIGNED_BYTE, null);
    const out = this._texture(gl.RGBA8, w, h, gl.RGBA, gl.UNSIGNED_BYTE, null);
    const fbo = gl.createFramebuffer();
    gl.bindFramebuffer(gl.FRAMEBUFFER, fbo);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, out, 0);
    gl.drawBuffers([gl.COLOR_ATTACHMENT0]);
    this._compose({ panel: "partition", fillRegions: true, boundaries: false }, fbo, [w, h], bits, { pred, edge, words: wordsPerPattern, classes: null });
    const px = new Uint8Array(4 * w * h);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    gl.deleteFramebuffer(fbo);
    for (const t of [...bits, pred, edge, out]) gl.deleteTexture(t);
    return Uint8Array.from({ length: 3 * n }, (_, i) => px[4 * Math.floor(i / 3) + (i % 3)]);
  }

  dispose() {
    if (this._frame) cancelAnimationFrame(this._frame);
    this._frame = 0;
    const gl = this.gl;
    if (!gl) return;
    this._freeTargets();
    for (const t of [this.ties, this.coords, this.weights?.tex]) if (t) gl.deleteTexture(t);
    for (const p of this.programs.values()) gl.deleteProgram(p);
    gl.deleteFramebuffer(this.fbo);
    gl.deleteBuffer(this.uniforms);
    gl.deleteVertexArray(this.vao);
    this.programs.clear();
    this.gl = null;
  }

  // -- GL plumbing --------------------------------------------------------------------------
  _ready() {
    if (!this.gl || !this.net) throw new Error("no network to read: call setWeights first");
    this._update();
  }

  _freeTargets() {
    if (!this.targets) return;
    for (const t of [...this.targets.bits, this.targets.pred, this.targets.pred2, this.targets.edge]) if (t) this.gl.deleteTexture(t);
    this.targets = null;
  }

  _texture(internal, w, h, format, type, data) {
    const gl = this.gl, tex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, tex);
    for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
    for (const p of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T]) gl.texParameteri(gl.TEXTURE_2D, p, gl.CLAMP_TO_EDGE);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texImage2D(gl.TEXTURE_2D, 0, internal, w, h, 0, format, type, data);
    return tex;
  }

  _bindTexture(prog, name, unit, tex) {
    const gl = this.gl;
    gl.activeTexture(gl.TEXTURE0 + unit);
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.uniform1i(prog.loc(name), unit);
  }

  _bindBits(prog, bits) {
    this.gl.useProgram(prog);
    bits.forEach((tex, i) => this._bindTexture(prog, `uB${i}`, i, tex));
  }

  // A full-screen triangle into ``outs`` (textures, as draw buffers 0..n-1).
  _draw(prog, outs, [w, h]) {
    const gl = this.gl;
    gl.useProgram(prog);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.fbo);
    for (let i = 0; i < this.maxTargets; i++) {
      gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0 + i, gl.TEXTURE_2D, outs[i] ?? null, 0);
    }
    gl.drawBuffers(outs.map((_, i) => gl.COLOR_ATTACHMENT0 + i));
    gl.viewport(0, 0, w, h);
    gl.bindVertexArray(this.vao);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
  }

  _readTexture(tex, Type, channels) {
    const gl = this.gl, [w, h] = this.size, px = new Type(channels * w * h);
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.fbo);
    for (let i = 1; i < this.maxTargets; i++) gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0 + i, gl.TEXTURE_2D, null, 0);
    gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, tex, 0);
    gl.readBuffer(gl.COLOR_ATTACHMENT0);
    gl.readPixels(0, 0, w, h, gl.RGBA_INTEGER, gl.UNSIGNED_INT, px);
    return flipRows(px, w, h, channels);
  }

  _program(key, source) {
    let prog = this.programs.get(key);
    if (prog) return prog;
    const gl = this.gl;
    const shader = (type, src) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, src);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(s)}`);
      return s;
    };
    prog = gl.createProgram();
    const vs = shader(gl.VERTEX_SHADER, VERTEX), fs = shader(gl.FRAGMENT_SHADER, source());
    gl.attachShader(prog, vs);
    gl.attachShader(prog, fs);
    gl.linkProgram(prog);
    gl.deleteShader(vs);
    gl.deleteShader(fs);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(`program: ${gl.getProgramInfoLog(prog)}`);
    const locs = new Map();
    prog.loc = (name) => (locs.has(name) ? locs.get(name) : locs.set(name, gl.getUniformLocation(prog, name)).get(name));
    this.programs.set(key, prog);
    return prog;
  }
}

// GL rows run bottom up; the server's row 0 is the top.
function flipRows(px, w, h, channels) {
  const out = new px.constructor(px.length), row = w * channels;
  for (let y = 0; y < h; y++) out.set(px.subarray(y * row, (y + 1) * row), (h - 1 - y) * row);
  return out;
}
