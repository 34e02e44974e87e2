// The training points in 3-D: each at its target's height (the target picture's value at the
// point, in the output the surface shows: a channel or the luminance), so the fit can be read as
// the distance between dot and facet; a classifier's points (whose targets are classes, not
// heights) sit on the surface in their class's colour. A clip's points are those of the frames
// near the moment on screen, as the target panel shows them.

import { nearestFrame } from "../drawing/cliptime.js";
import { facts } from "../shared/facts.js";
import { LUMINANCE, heightOf } from "./mesh.js";

const TARGET_SIZE = 256; // the picture read at 256² (1024² / 4): a point reads its 4×4 block's mean
const TARGET = 1024; // the points' pixel grid (docs/protocol.md, "points")

const hexRgb = (hex) => [1, 3, 5].map((i) => parseInt(String(hex).slice(i, i + 2), 16) || 0);

/** The target picture's pixels (RGBA, TARGET_SIZE²) at `url`, or null when it cannot be read. */
export async function loadTarget(url) {
  const img = new Image();
  img.src = `${url}${url.includes("?") ? "&" : "?"}size=${TARGET_SIZE}`;
  try {
    await img.decode();
  } catch {
    return null;
  }
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = TARGET_SIZE;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, 0, 0, TARGET_SIZE, TARGET_SIZE);
  return ctx.getImageData(0, 0, TARGET_SIZE, TARGET_SIZE).data;
}

/** The training points of `msg` (the `points` message) near moment t of a clip of `frames`. */
function trainingPoints(msg, t, frames) {
  const pts = msg.train.map((rc, i) => ({ row: rc[0], col: rc[1], label: Array.isArray(msg.train_labels) ? msg.train_labels[i] : null,
    frame: Array.isArray(msg.train_frames) ? msg.train_frames[i] : null }));
  if (frames <= 1) return pts;
  const k = nearestFrame(t, frames);
  return pts.filter((p) => p.frame === null || Math.abs(p.frame - k) <= facts.nearbyFrames);
}

/**
 * {positions, colors} for surfacegl.js: the points inside `box`. `pixels`: the target (loadTarget);
 * `weights`: the height's weights over the outputs (mesh.js heightWeights; null: a winning score);
 * `heightAt(x, y)`: the surface's height there (a classifier's points), or null.
 */
export function pointCloud(msg, { pixels, weights, box, t = 0, frames = 1, classColors = null, heightAt = null }) {
  if (!msg || !Array.isArray(msg.train)) return null;
  const train = hexRgb(facts.pointColors.train || "#e61e1e");
  const positions = [], colors = [];
  const scale = TARGET_SIZE / TARGET;
  for (const p of trainingPoints(msg, t, frames)) {
    const x = -1 + (2 * p.col + 1) / TARGET, y = 1 - (2 * p.row + 1) / TARGET;
    if (x < box.x0 || x > box.x1 || y < box.y0 || y > box.y1) continue;
    let z;
    if (classColors) {
      if (!heightAt) continue;
      z = heightAt(x, y);
      colors.push(...(classColors[p.label] || train));
    } else {
      if (!pixels) continue;
      const at = 4 * (Math.floor(p.row * scale) * TARGET_SIZE + Math.floor(p.col * scale));
      const rgb = [pixels[at] / 255, pixels[at + 1] / 255, pixels[at + 2] / 255];
      z = heightOf(rgb, weights && weights.length === 3 ? weights : LUMINANCE); // one output: the picture as grey
      colors.push(...train);
    }
    positions.push(x, y, z);
  }
  return { positions: new Float32Array(positions), colors: new Uint8Array(colors) };
}
