// Layer strings ("14x6", "10x10,2,10x3") read on the page. The server parses and
// validates them too; these only let the page count parameters and size sliders.

const GROUP = /^\s*(\d+)\s*(?:[x×*]\s*(\d+))?\s*$/i;

/** Hidden widths of `spec`, or null when it is not a layer string of at most `maxDepth` layers.
 * The depth cap keeps "1x999999999" from building a huge array. */
export function parseWidths(spec, maxDepth) {
  const widths = [];
  for (const group of String(spec).split(",")) {
    const m = GROUP.exec(group);
    if (!m) return null;
    const count = m[2] === undefined ? 1 : Number(m[2]);
    if (widths.length + count > maxDepth) return null;
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
