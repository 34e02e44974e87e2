// A region's colour from its activation pattern on the CPU: geometry/patterns.py's pattern_colors
// step for step (splitmix64 over the pattern's 64-bit words, then HSV in float64 with numpy's
// operation order and round-half-even), for the sampled surface, whose patterns the page finds
// itself. The exact surface brings its colours from the server.

const MASK = (1n << 64n) - 1n;
const SEED = 0x9e3779b97f4a7c15n;
const M1 = 0xbf58476d1ce4e5b9n;
const M2 = 0x94d049bb133111ebn;

function mix64(h) {
  h ^= h >> 30n;
  h = (h * M1) & MASK;
  h ^= h >> 27n;
  h = (h * M2) & MASK;
  return h ^ (h >> 31n);
}

/** numpy.rint: halves to even. */
function rint(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** [r, g, b] of a pattern given as 32-bit words (bit h of the pattern is bit h%32 of word h/32). */
export function patternColor(words32) {
  let h = SEED;
  for (let k = 0; k < Math.max(1, Math.ceil(words32.length / 2)); k++) {
    const word = (BigInt(words32[2 * k + 1] >>> 0 || 0) << 32n) | BigInt(words32[2 * k] >>> 0 || 0);
    h = mix64(h ^ word);
  }
  const hue = Number(h & 0xffffn) / 65536.0;
  const sat = 0.45 + (0.35 * Number((h >> 16n) & 0xffn)) / 255.0;
  const val = 0.7 + (0.25 * Number((h >> 24n) & 0xffn)) / 255.0;
  const i = ((Math.floor(hue * 6.0) % 6) + 6) % 6;
  const f = hue * 6.0 - Math.floor(hue * 6.0);
  const p = val * (1 - sat), q = val * (1 - sat * f), t = val * (1 - sat * (1 - f));
  const rgb = [[val, t, p], [q, val, p], [p, val, t], [p, q, val], [t, p, val], [val, p, q]][i];
  return rgb.map((c) => Math.min(255, Math.max(0, rint(c * 255))));
}
