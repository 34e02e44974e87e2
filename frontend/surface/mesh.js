// The surface as triangles and lines for surfacegl.js: from the exact surface (surfacewire.js:
// every facet its region's polygon lifted by its own affine map, creases its edges) or from a
// sampled grid (sampled.js: two triangles a cell, no creases drawn). The height is the output the
// panel shows (outputChoices): one output, a colour picture's luminance, a classifier's winning
// score or one class's score. Colours: the region's pattern colour, the output's own colour
// (grey, the RGB prediction, the winning class) or a ramp over the height.

// Luminance of an RGB output (ITU-R BT.601, as PIL's "L" conversion of the target picture and
// the server's surface routes: docs/protocol.md).
export const LUMINANCE = Object.freeze([0.299, 0.587, 0.114]);

const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]; // dark to light

/** What the panel can show as height for a network of `outDim` outputs: [{value, label}], each
 *  value as the surface routes' `output` (docs/protocol.md): "channel:i", "luminance", "winner",
 *  "class:i". */
export function outputChoices(task, outDim, classNames = []) {
  if (task === "classify") {
    return [{ value: "winner", label: "winning class's score" },
      ...Array.from({ length: outDim }, (_, k) => ({ value: `class:${k}`, label: `score of ${classNames[k] || `class ${k + 1}`}` }))];
  }
  if (outDim === 3) {
    return [{ value: "luminance", label: "luminance" },
      ...["red", "green", "blue"].map((name, k) => ({ value: `channel:${k}`, label: `${name} channel` }))];
  }
  return Array.from({ length: outDim }, (_, k) => ({ value: `channel:${k}`, label: outDim === 1 ? "output" : `output ${k + 1}` }));
}

/** The height's weights over the outputs (null: a classifier's winning score). */
export function heightWeights(choice, outDim) {
  if (choice === "winner") return null;
  if (choice === "luminance" && outDim === 3) return LUMINANCE;
  const k = /^(?:channel|class):(\d+)$/.exec(choice || "");
  const w = new Array(outDim).fill(0);
  w[k && Number(k[1]) < outDim ? Number(k[1]) : 0] = 1;
  return w;
}

/** The height at the outputs `values` (length K). */
export function heightOf(values, weights) {
  if (!weights) {
    let best = -Infinity;
    for (const v of values) best = Math.max(best, v);
    return best;
  }
  let z = 0;
  for (let k = 0; k < weights.length; k++) z += weights[k] * values[k];
  return z;
}

const clamp255 = (v) => Math.max(0, Math.min(255, Math.round(v * 255)));

/** The output's own colour at `values`: grey, RGB, or the winning class's. */
function outputColor(values, classColors, winner) {
  if (classColors) return classColors[winner] || [128, 128, 128];
  if (values.length === 3) return values.map(clamp255);
  const g = clamp255(values[0]);
  return [g, g, g];
}

export function rampColor(u) {
  const s = Math.max(0, Math.min(1, u)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(s)), f = s - i;
  return RAMP[i].map((c, j) => Math.round(c + (RAMP[i + 1][j] - c) * f));
}

function argmax(values) {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k] > values[best]) best = k;
  return best;
}

/** Per-vertex colours once the heights are known: ramp over [zMin, zMax]. */
function applyRamp(mesh) {
  const span = mesh.zMax - mesh.zMin || 1;
  for (let v = 0; v < mesh.colors.length / 3; v++) mesh.colors.set(rampColor((mesh.positions[3 * v + 2] - mesh.zMin) / span), 3 * v);
}

/**
 * A mesh of the exact surface: {kind: "exact", positions (x, y, z per vertex), colors (RGB per
 * vertex), starts (facet f's vertices are starts[f]..starts[f+1]), creases (segments, x, y, z
 * pairs), zMin, zMax, facets, step, t, box}.
 */
export function exactMesh(surface, { choice, colorMode, classColors = null }) {
  const { regions: F, outDim: K, starts, vertices, maps, colors, winner } = surface;
  const weights = heightWeights(choice, K);
  const V = starts[F];
  const positions = new Float32Array(3 * V);
  const vertexColors = new Uint8Array(3 * V);
  const creases = new Float32Array(6 * V);
  const values = new Float64Array(K);
  let zMin = Infinity, zMax = -Infinity;
  for (let f = 0; f < F; f++) {
    // The facet's height map: a classifier's winning score is its winner's score (the facets are
    // the decision pieces); else the chosen combination of the outputs' maps.
    let ax = 0, ay = 0, c0 = 0;
    const base = f * K * 3;
    if (weights) {
      for (let k = 0; k < K; k++) {
        ax += weights[k] * maps[base + 3 * k];
        ay += weights[k] * maps[base + 3 * k + 1];
        c0 += weights[k] * maps[base + 3 * k + 2];
      }
    } else {
      const k = winner ? winner[f] : 0;
      ax = maps[base + 3 * k];
      ay = maps[base + 3 * k + 1];
      c0 = maps[base + 3 * k + 2];
    }
    let rgb;
    if (colorMode === "output") {
      let cx = 0, cy = 0;
      for (let v = starts[f]; v < starts[f + 1]; v++) {
        cx += vertices[2 * v];
        cy += vertices[2 * v + 1];
      }
      cx /= starts[f + 1] - starts[f];
      cy /= starts[f + 1] - starts[f];
      for (let k = 0; k < K; k++) values[k] = maps[base + 3 * k] * cx + maps[base + 3 * k + 1] * cy + maps[base + 3 * k + 2];
      rgb = outputColor(values, classColors, winner ? winner[f] : argmax(values));
    } else rgb = [colors[3 * f], colors[3 * f + 1], colors[3 * f + 2]];
    const first = starts[f], last = starts[f + 1] - 1;
    for (let v = first; v <= last; v++) {
      const x = vertices[2 * v], y = vertices[2 * v + 1];
      const z = ax * x + ay * y + c0;
      positions[3 * v] = x;
      positions[3 * v + 1] = y;
      positions[3 * v + 2] = z;
      if (z < zMin) zMin = z;
      if (z > zMax) zMax = z;
      vertexColors.set(rgb, 3 * v);
      const w = v === last ? first : v + 1; // the edge to the next vertex: a crease (or the box's side)
      const x1 = vertices[2 * w], y1 = vertices[2 * w + 1];
      creases.set([x, y, z, x1, y1, ax * x1 + ay * y1 + c0], 6 * v);
    }
  }
  const mesh = { kind: "exact", positions, colors: vertexColors, starts, creases, zMin, zMax, facets: F,
    step: surface.step, t: surface.t, box: surface.box };
  if (colorMode === "height") applyRamp(mesh);
  return mesh;
}

/** A mesh of a sampled grid (sampled.js): two triangles per cell, each its own facet, no creases. */
export function sampledMesh(grid, { choice, colorMode, classColors = null }) {
  const { n, box, outDim: K, outputs, colors, winner } = grid;
  const weights = heightWeights(choice, K);
  const heights = new Float64Array((n + 1) * (n + 1));
  for (let v = 0; v < heights.length; v++) heights[v] = heightOf(outputs.subarray(v * K, (v + 1) * K), weights);
  const F = 2 * n * n;
  const positions = new Float32Array(9 * F);
  const vertexColors = new Uint8Array(9 * F);
  const starts = new Uint32Array(F + 1);
  const dx = (box.x1 - box.x0) / n, dy = (box.y1 - box.y0) / n;
  const values = new Float64Array(K);
  let zMin = Infinity, zMax = -Infinity, at = 0;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const cell = r * n + c;
      let rgb;
      if (colorMode === "output") {
        const corners = [r * (n + 1) + c, r * (n + 1) + c + 1, (r + 1) * (n + 1) + c, (r + 1) * (n + 1) + c + 1];
        for (let k = 0; k < K; k++) values[k] = corners.reduce((s, v) => s + outputs[v * K + k], 0) / 4;
        rgb = outputColor(values, classColors, winner ? winner[cell] : 0);
      } else rgb = [colors[3 * cell], colors[3 * cell + 1], colors[3 * cell + 2]];
      const corner = (rr, cc) => [box.x0 + cc * dx, box.y0 + rr * dy, heights[rr * (n + 1) + cc]];
      const a = corner(r, c), b = corner(r, c + 1), d = corner(r + 1, c + 1), e = corner(r + 1, c);
      for (const tri of [[a, b, d], [a, d, e]]) {
        for (const p of tri) {
          positions.set(p, 3 * at);
          vertexColors.set(rgb, 3 * at);
          if (p[2] < zMin) zMin = p[2];
          if (p[2] > zMax) zMax = p[2];
          at++;
        }
        starts[(at / 3)] = at;
      }
    }
  }
  const mesh = { kind: "sampled", positions, colors: vertexColors, starts, creases: new Float32Array(0), zMin, zMax,
    facets: F, step: grid.step, t: null, box };
  if (colorMode === "height") applyRamp(mesh);
  return mesh;
}

/** The facet of `mesh` under the ray origin + s·dir (input coordinates, z the height): {facet, x, y, z} of
 *  the nearest hit, or null. Each facet is flat: the ray meets its plane once, inside or not. */
export function pickFacet(mesh, origin, dir) {
  const P = mesh.positions;
  let best = null;
  for (let f = 0; f < mesh.facets; f++) {
    const first = mesh.starts[f], end = mesh.starts[f + 1];
    if (end - first < 3) continue; // no area: nothing to hit
    // The facet's plane from three of its vertices (it is flat), then the hit, then inside-ness.
    const i0 = 3 * first, i1 = 3 * (first + 1), i2 = 3 * (first + 2);
    const ux = P[i1] - P[i0], uy = P[i1 + 1] - P[i0 + 1], uz = P[i1 + 2] - P[i0 + 2];
    const vx = P[i2] - P[i0], vy = P[i2 + 1] - P[i0 + 1], vz = P[i2 + 2] - P[i0 + 2];
    const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    const denom = nx * dir[0] + ny * dir[1] + nz * dir[2];
    if (Math.abs(denom) < 1e-15) continue;
    const s = (nx * (P[i0] - origin[0]) + ny * (P[i0 + 1] - origin[1]) + nz * (P[i0 + 2] - origin[2])) / denom;
    if (s <= 0 || (best && s >= best.s)) continue;
    const x = origin[0] + s * dir[0], y = origin[1] + s * dir[1];
    let inside = true;
    for (let v = first; v < end && inside; v++) {
      const w = v + 1 === end ? first : v + 1;
      const cross = (P[3 * w] - P[3 * v]) * (y - P[3 * v + 1]) - (P[3 * w + 1] - P[3 * v + 1]) * (x - P[3 * v]);
      if (cross < -1e-12) inside = false; // counter-clockwise: the point is left of every edge
    }
    if (inside) best = { facet: f, s, x, y, z: origin[2] + s * dir[2] };
  }
  return best;
}
