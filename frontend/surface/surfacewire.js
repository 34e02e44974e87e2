// The exact surface as the server sends it (docs/protocol.md, "The surface"): a binary PLF1
// message of type "surface", pushed live (view.surface) or answered by GET .../surface. Sections:
// counts (uint32 per facet: its vertices), vertices (float32 x, y per vertex, counter-clockwise),
// maps (float32 per facet, per output k: A[k][0], A[k][1], c[k]), colors (uint8 RGB per facet:
// its pattern's colour), winner (uint8 per facet, a classifier's: its facets are the decision pieces).

export class SurfaceError extends Error {}

/** A section as a typed array of `Type` (copied when the section does not start on its alignment). */
function typed(bytes, Type, count, name) {
  if (!bytes) throw new SurfaceError(`surface without a ${name} section`);
  const size = Type.BYTES_PER_ELEMENT;
  if (bytes.length !== count * size) throw new SurfaceError(`surface ${name}: ${bytes.length} bytes, expected ${count * size}`);
  if (bytes.byteOffset % size === 0) return new Type(bytes.buffer, bytes.byteOffset, count);
  return new Type(bytes.slice().buffer);
}

/** {step, t, box: {x0, x1, y0, y1}, task, exact, regions, outDim, counts, starts, vertices,
 *  maps, colors, winner} from a parsed message (connection.js parseFrame's header and sections). */
export function decodeSurface(header, sections) {
  const regions = header.regions;
  const outDim = header.out_dim;
  if (!Number.isInteger(regions) || regions < 0) throw new SurfaceError(`surface: bad region count ${regions}`);
  if (!Number.isInteger(outDim) || outDim < 1) throw new SurfaceError(`surface: bad out_dim ${outDim}`);
  const box = Array.isArray(header.box) && header.box.length === 4 && header.box.every(Number.isFinite)
    ? { x0: header.box[0], x1: header.box[1], y0: header.box[2], y1: header.box[3] } : { x0: -1, x1: 1, y0: -1, y1: 1 };
  const counts = typed(sections.counts, Uint32Array, regions, "counts");
  const starts = new Uint32Array(regions + 1);
  for (let i = 0; i < regions; i++) starts[i + 1] = starts[i] + counts[i];
  const vertices = typed(sections.vertices, Float32Array, 2 * starts[regions], "vertices");
  const maps = typed(sections.maps, Float32Array, regions * outDim * 3, "maps");
  const colors = typed(sections.colors, Uint8Array, regions * 3, "colors");
  const classify = header.task === "classify";
  const winner = classify ? typed(sections.winner, Uint8Array, regions, "winner") : null;
  return {
    step: header.step, t: Number.isFinite(header.t) ? header.t : null, box, task: classify ? "classify" : "regress",
    exact: header.exact !== false, regions, outDim, counts, starts, vertices, maps, colors, winner,
  };
}
