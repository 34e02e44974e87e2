// WebGL2 drawing of the surface (mesh.js): lit flat facets (each triangle's normal from the
// screen-space derivatives of its position, so a facet is one flat shade however it was cut into
// triangles), creases as lines over them, training points as dots, the selected facet outlined; an
// orbit camera (drag rotates, wheel or pinch zooms, reset). Draws on demand (one animation frame per
// change), keeps its buffer so that tests and screenshots can read it. pick() turns a pixel into
// the facet under it, by a ray in input coordinates (mesh.js pickFacet).

import { pickFacet } from "./mesh.js";

export const BACKGROUND = [0.975, 0.978, 0.985];
const CREASE = [0.1, 0.1, 0.12];
const OUTLINE = [0.26, 0.22, 0.79]; // the overlay's highlight colour (drawing/overlay.js)
const HOME = Object.freeze({ yaw: -2.2, pitch: 0.72, distance: 3.0 });

const MESH_VS = `#version 300 es
in vec3 aPos; in vec3 aColor;
uniform mat4 uMVP; uniform vec4 uMap; uniform vec2 uZ;
out vec3 vWorld; out vec3 vColor;
void main() {
  vWorld = vec3((aPos.x - uMap.x) * uMap.z, (aPos.y - uMap.y) * uMap.z, (aPos.z - uZ.x) * uZ.y);
  vColor = aColor;
  gl_Position = uMVP * vec4(vWorld, 1.0);
}`;
const MESH_FS = `#version 300 es
precision highp float;
in vec3 vWorld; in vec3 vColor;
uniform vec3 uEye; uniform vec4 uTint;
out vec4 color;
void main() {
  vec3 n = normalize(cross(dFdx(vWorld), dFdy(vWorld)));
  vec3 toEye = normalize(uEye - vWorld);
  if (dot(n, toEye) < 0.0) n = -n; // the underside is lit as the top
  vec3 light = normalize(toEye + vec3(0.3, 0.2, 0.9));
  float shade = 0.42 + 0.58 * max(dot(n, light), 0.0);
  vec3 rgb = mix(vColor * shade, uTint.rgb, uTint.a);
  color = vec4(rgb, 1.0);
}`;
const FLAT_VS = `#version 300 es
in vec3 aPos; in vec3 aColor;
uniform mat4 uMVP; uniform vec4 uMap; uniform vec2 uZ; uniform float uSize;
out vec3 vColor;
void main() {
  vec3 w = vec3((aPos.x - uMap.x) * uMap.z, (aPos.y - uMap.y) * uMap.z, (aPos.z - uZ.x) * uZ.y);
  vColor = aColor;
  gl_Position = uMVP * vec4(w, 1.0);
  gl_PointSize = uSize;
}`;
const FLAT_FS = `#version 300 es
precision highp float;
in vec3 vColor;
uniform vec4 uColor; uniform bool uRound; uniform bool uVertexColor;
out vec4 color;
void main() {
  if (uRound && length(gl_PointCoord - 0.5) > 0.5) discard;
  color = uVertexColor ? vec4(vColor, 1.0) : uColor;
}`;

// -- 4x4 matrices, column-major as GL reads them ------------------------------------------
function multiply(a, b) {
  const out = new Float64Array(16);
  for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) {
    let s = 0;
    for (let k = 0; k < 4; k++) s += a[k * 4 + r] * b[c * 4 + k];
    out[c * 4 + r] = s;
  }
  return out;
}

function perspective(fovy, aspect, near, far) {
  const f = 1 / Math.tan(fovy / 2), nf = 1 / (near - far);
  return Float64Array.from([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0]);
}

function lookAt(eye, target, up) {
  const sub = (a, b) => a.map((v, i) => v - b[i]);
  const norm = (v) => { const l = Math.hypot(...v) || 1; return v.map((x) => x / l); };
  const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const z = norm(sub(eye, target)), x = norm(cross(up, z)), y = cross(z, x);
  return Float64Array.from([x[0], y[0], z[0], 0, x[1], y[1], z[1], 0, x[2], y[2], z[2], 0, -dot(x, eye), -dot(y, eye), -dot(z, eye), 1]);
}

function invert(m) {
  const inv = new Float64Array(16);
  const [a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33] = m;
  const b00 = a00 * a11 - a01 * a10, b01 = a00 * a12 - a02 * a10, b02 = a00 * a13 - a03 * a10;
  const b03 = a01 * a12 - a02 * a11, b04 = a01 * a13 - a03 * a11, b05 = a02 * a13 - a03 * a12;
  const b06 = a20 * a31 - a21 * a30, b07 = a20 * a32 - a22 * a30, b08 = a20 * a33 - a23 * a30;
  const b09 = a21 * a32 - a22 * a31, b10 = a21 * a33 - a23 * a31, b11 = a22 * a33 - a23 * a32;
  const det = b00 * b11 - b01 * b10 + b02 * b09 + b03 * b08 - b04 * b07 + b05 * b06;
  const d = 1 / det;
  inv.set([(a11 * b11 - a12 * b10 + a13 * b09) * d, (a02 * b10 - a01 * b11 - a03 * b09) * d, (a31 * b05 - a32 * b04 + a33 * b03) * d,
    (a22 * b04 - a21 * b05 - a23 * b03) * d, (a12 * b08 - a10 * b11 - a13 * b07) * d, (a00 * b11 - a02 * b08 + a03 * b07) * d,
    (a32 * b02 - a30 * b05 - a33 * b01) * d, (a20 * b05 - a22 * b02 + a23 * b01) * d, (a10 * b10 - a11 * b08 + a13 * b06) * d,
    (a01 * b08 - a00 * b10 - a03 * b06) * d, (a30 * b04 - a31 * b02 + a33 * b00) * d, (a21 * b02 - a20 * b04 - a23 * b00) * d,
    (a11 * b07 - a10 * b09 - a12 * b06) * d, (a00 * b09 - a01 * b07 + a02 * b06) * d, (a31 * b01 - a30 * b03 - a32 * b00) * d,
    (a20 * b03 - a21 * b01 + a22 * b00) * d]);
  return inv;
}

function transform(m, v) {
  const out = [0, 0, 0, 0];
  for (let r = 0; r < 4; r++) out[r] = m[r] * v[0] + m[4 + r] * v[1] + m[8 + r] * v[2] + m[12 + r] * v[3];
  return out;
}

export class SurfaceRenderer {
  /** Throws when WebGL2 cannot be had. onDraw(ms) after each drawn frame. `antialias`: smooth
   *  edges (multisampling; on a software rasterizer it costs ~4x the frame, so the panel leaves it off there). */
  constructor(canvas, { onDraw = () => {}, antialias = true } = {}) {
    this.canvas = canvas;
    const gl = canvas.getContext("webgl2", { antialias, preserveDrawingBuffer: true });
    if (!gl) throw new Error("this browser has no WebGL2");
    this.gl = gl;
    this.onDraw = onDraw;
    this.mesh = null;
    this.points = null;
    this.outline = null;
    this.camera = { ...HOME };
    this.verticalScale = 1;
    this.zRange = [0, 1];
    this.box = { x0: -1, x1: 1, y0: -1, y1: 1 };
    this.raf = 0;
    this.frames = 0; // frames drawn (the benchmarks count them)
    this.meshProgram = this._program(MESH_VS, MESH_FS);
    this.flatProgram = this._program(FLAT_VS, FLAT_FS);
    this.buffers = {};
    for (const name of ["meshPos", "meshColor", "meshIndex", "crease", "pointPos", "pointColor", "outlinePos"]) this.buffers[name] = gl.createBuffer();
    this.counts = { indices: 0, crease: 0, points: 0, outline: 0 };
  }

  _program(vs, fs) {
    const gl = this.gl;
    const prog = gl.createProgram();
    for (const [type, source] of [[gl.VERTEX_SHADER, vs], [gl.FRAGMENT_SHADER, fs]]) {
      const shader = gl.createShader(type);
      gl.shaderSource(shader, source);
      gl.compileShader(shader);
      if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(`surface shader: ${gl.getShaderInfoLog(shader)}`);
      gl.attachShader(prog, shader);
    }
    gl.bindAttribLocation(prog, 0, "aPos");
    gl.bindAttribLocation(prog, 1, "aColor");
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(`surface program: ${gl.getProgramInfoLog(prog)}`);
    const uniforms = {};
    for (let i = 0; i < gl.getProgramParameter(prog, gl.ACTIVE_UNIFORMS); i++) {
      const name = gl.getActiveUniform(prog, i).name;
      uniforms[name] = gl.getUniformLocation(prog, name);
    }
    return { prog, uniforms };
  }

  /** A new mesh (mesh.js); `zRange` [lo, hi]: the heights the vertical scale fits into the view. */
  setMesh(mesh, zRange) {
    const gl = this.gl;
    this.mesh = mesh;
    this.zRange = zRange;
    this.box = mesh.box;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.meshPos);
    gl.bufferData(gl.ARRAY_BUFFER, mesh.positions, gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.meshColor);
    gl.bufferData(gl.ARRAY_BUFFER, mesh.colors, gl.DYNAMIC_DRAW);
    // Each facet is convex: a fan from its first vertex.
    const { starts, facets } = mesh;
    let triangles = 0;
    for (let f = 0; f < facets; f++) triangles += Math.max(0, starts[f + 1] - starts[f] - 2);
    const indices = new Uint32Array(3 * triangles);
    let at = 0;
    for (let f = 0; f < facets; f++) {
      for (let v = starts[f] + 1; v + 1 < starts[f + 1]; v++) {
        indices[at++] = starts[f];
        indices[at++] = v;
        indices[at++] = v + 1;
      }
    }
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.buffers.meshIndex);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, indices, gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.crease);
    gl.bufferData(gl.ARRAY_BUFFER, mesh.creases, gl.DYNAMIC_DRAW);
    this.counts.indices = at;
    this.counts.crease = mesh.creases.length / 3;
    this.request();
  }

  /** Training points: positions (x, y, z per point) and colours (RGB bytes); null: none. */
  setPoints(points) {
    const gl = this.gl;
    this.points = points;
    this.counts.points = points ? points.positions.length / 3 : 0;
    if (points) {
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.pointPos);
      gl.bufferData(gl.ARRAY_BUFFER, points.positions, gl.DYNAMIC_DRAW);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.pointColor);
      gl.bufferData(gl.ARRAY_BUFFER, points.colors, gl.DYNAMIC_DRAW);
    }
    this.request();
  }

  /** The selected facet's polygon, lifted: Float32Array x, y, z per vertex (null: none). */
  setOutline(polygon) {
    const gl = this.gl;
    this.counts.outline = polygon ? polygon.length / 3 : 0;
    if (polygon) {
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.outlinePos);
      gl.bufferData(gl.ARRAY_BUFFER, polygon, gl.DYNAMIC_DRAW);
    }
    this.request();
  }

  setVerticalScale(scale) {
    this.verticalScale = scale;
    this.request();
  }

  /** Rotate by a drag of (dx, dy) CSS pixels. */
  rotate(dx, dy) {
    this.camera.yaw -= dx * 0.01;
    this.camera.pitch = Math.max(-1.45, Math.min(1.5, this.camera.pitch + dy * 0.01));
    this.request();
  }

  /** Move closer (factor < 1) or away. */
  zoom(factor) {
    this.camera.distance = Math.max(1.3, Math.min(12, this.camera.distance * factor));
    this.request();
  }

  resetCamera() {
    this.camera = { ...HOME };
    this.request();
  }

  request() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.draw();
    });
  }

  /** {map: [cx, cy, 1/h, 0], z: [zMid, zScale]}: input coordinates to the world's cube. */
  _world() {
    const b = this.box;
    const half = Math.max(b.x1 - b.x0, b.y1 - b.y0) / 2 || 1;
    const [lo, hi] = this.zRange;
    const span = hi - lo > 1e-12 ? hi - lo : 1;
    return { map: [(b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2, 1 / half, 0], z: [(lo + hi) / 2, this.verticalScale / span] };
  }

  _eye() {
    const { yaw, pitch, distance } = this.camera;
    return [distance * Math.cos(pitch) * Math.cos(yaw), distance * Math.cos(pitch) * Math.sin(yaw), distance * Math.sin(pitch)];
  }

  _viewProjection() {
    const aspect = this.canvas.width / Math.max(1, this.canvas.height);
    const up = Math.abs(Math.cos(this.camera.pitch)) < 1e-3 ? [0, 1, 0] : [0, 0, 1];
    return multiply(perspective(0.65, aspect, 0.05, 50), lookAt(this._eye(), [0, 0, 0], up));
  }

  /** Size the drawing buffer to the canvas's CSS size (device pixels); true when it changed. */
  fit() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr)), h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (this.canvas.width === w && this.canvas.height === h) return false;
    this.canvas.width = w;
    this.canvas.height = h;
    return true;
  }

  draw() {
    const gl = this.gl;
    const started = performance.now();
    this.fit();
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(...BACKGROUND, 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    if (!this.mesh) return;
    gl.enable(gl.DEPTH_TEST);
    gl.depthFunc(gl.LEQUAL);
    const mvp = new Float32Array(this._viewProjection());
    const { map, z } = this._world();
    const attribs = (pos, color, size = 3) => {
      gl.bindBuffer(gl.ARRAY_BUFFER, pos);
      gl.enableVertexAttribArray(0);
      gl.vertexAttribPointer(0, size, gl.FLOAT, false, 0, 0);
      if (color) {
        gl.bindBuffer(gl.ARRAY_BUFFER, color);
        gl.enableVertexAttribArray(1);
        gl.vertexAttribPointer(1, 3, gl.UNSIGNED_BYTE, true, 0, 0);
      } else {
        gl.disableVertexAttribArray(1);
        gl.vertexAttrib3f(1, 0, 0, 0);
      }
    };
    const common = (p) => {
      gl.useProgram(p.prog);
      gl.uniformMatrix4fv(p.uniforms.uMVP, false, mvp);
      gl.uniform4fv(p.uniforms.uMap, map);
      gl.uniform2fv(p.uniforms.uZ, z);
    };

    // Facets, pushed back a little so that the creases drawn on them win the depth test.
    const mp = this.meshProgram;
    common(mp);
    gl.uniform3fv(mp.uniforms.uEye, this._eye());
    gl.uniform4fv(mp.uniforms.uTint, [0, 0, 0, 0]);
    gl.enable(gl.POLYGON_OFFSET_FILL);
    gl.polygonOffset(1, 1);
    attribs(this.buffers.meshPos, this.buffers.meshColor);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.buffers.meshIndex);
    gl.drawElements(gl.TRIANGLES, this.counts.indices, gl.UNSIGNED_INT, 0);
    gl.disable(gl.POLYGON_OFFSET_FILL);

    const fp = this.flatProgram;
    common(fp);
    gl.uniform1i(fp.uniforms.uRound, 0);
    gl.uniform1i(fp.uniforms.uVertexColor, 0);
    gl.uniform1f(fp.uniforms.uSize, 1);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    if (this.counts.crease) {
      // Creases fade where they crowd (thousands of facets), as the panels' boundaries do.
      const alpha = Math.max(0.18, Math.min(0.7, 60 / Math.sqrt(this.mesh.facets)));
      gl.uniform4fv(fp.uniforms.uColor, [...CREASE, alpha]);
      attribs(this.buffers.crease, null);
      gl.drawArrays(gl.LINES, 0, this.counts.crease);
    }
    if (this.counts.outline) {
      gl.uniform4fv(fp.uniforms.uColor, [...OUTLINE, 1]);
      gl.depthFunc(gl.ALWAYS); // the selected facet's outline shows through whatever hides it
      attribs(this.buffers.outlinePos, null);
      gl.drawArrays(gl.LINE_LOOP, 0, this.counts.outline);
      gl.depthFunc(gl.LEQUAL);
    }
    gl.disable(gl.BLEND);
    if (this.counts.points) {
      const dpr = window.devicePixelRatio || 1;
      gl.uniform1i(fp.uniforms.uRound, 1);
      gl.uniform1i(fp.uniforms.uVertexColor, 1);
      gl.uniform1f(fp.uniforms.uSize, Math.max(2, 2.5 * dpr));
      attribs(this.buffers.pointPos, this.buffers.pointColor);
      gl.drawArrays(gl.POINTS, 0, this.counts.points);
    }
    this.frames += 1;
    this.onDraw(performance.now() - started);
  }

  /** The facet under the canvas pixel (CSS px from its top-left): {facet, x, y, z} or null. */
  pick(px, py) {
    if (!this.mesh) return null;
    const rect = { w: this.canvas.clientWidth || 1, h: this.canvas.clientHeight || 1 };
    const ndc = [(2 * px) / rect.w - 1, 1 - (2 * py) / rect.h];
    const inv = invert(this._viewProjection());
    const unproject = (depth) => {
      const p = transform(inv, [ndc[0], ndc[1], depth, 1]);
      return [p[0] / p[3], p[1] / p[3], p[2] / p[3]];
    };
    const near = unproject(-1), far = unproject(1);
    // World back to input coordinates (a scale and a shift per axis), where the mesh lives.
    const { map, z } = this._world();
    const toInput = (w) => [w[0] / map[2] + map[0], w[1] / map[2] + map[1], w[2] / z[1] + z[0]];
    const a = toInput(near), b = toInput(far);
    return pickFacet(this.mesh, a, [b[0] - a[0], b[1] - a[1], b[2] - a[2]]);
  }

  dispose() {
    cancelAnimationFrame(this.raf);
    this.gl.getExtension("WEBGL_lose_context")?.loseContext();
  }
}
