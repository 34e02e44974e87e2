// Who draws the live view: the page's WebGL2 renderer from the weights ("client"), or the
// server, which sends pictures ("server"). The page draws when it can do so well: WebGL2
// on a real GPU and a network within the renderer's limits. A software rasterizer would
// be slower than the server, so it is only used when the address asks for it
// (?render=client, as the tests do); ?render=server always takes the server's frames.

import { facts } from "../shared/facts.js";
import { MLPRenderer } from "./renderer.js";

const SOFTWARE = /swiftshader|llvmpipe|softpipe|software rasterizer|microsoft basic render/i;

let probed = null;

/** {webgl2, name, software}: what this browser's WebGL2 is, asked once per page. */
export function probeGL() {
  if (probed) return probed;
  probed = { webgl2: false, name: "", software: false };
  try {
    const gl = document.createElement("canvas").getContext("webgl2");
    if (gl) {
      // The unmasked name tells SwiftShader from a GPU; without the extension, RENDERER.
      const info = gl.getExtension("WEBGL_debug_renderer_info");
      const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) || "");
      probed = { webgl2: true, name, software: SOFTWARE.test(name) };
      gl.getExtension("WEBGL_lose_context")?.loseContext(); // browsers allow few contexts
    }
  } catch {
    // no WebGL2: server frames
  }
  return probed;
}

/** "client" | "server" when the address forces a renderer (?render=), else null. */
export function forcedRender(search) {
  const value = new URLSearchParams(search).get("render");
  return value === "client" || value === "server" ? value : null;
}

function softwareName(name) {
  const m = SOFTWARE.exec(name);
  return m ? m[0].replace(/^\w/, (c) => c.toUpperCase()) : "software";
}

/** {widths, outDim} of a config (the page's settings or the server's run), `widths` its hidden
 *  widths (null when the layer string is not one). A classifier has one output per class of its
 *  picture, which only the server knows once it is built: until then, the most there may be. */
export function networkShape(config, widths) {
  const outDim = config.task === "classify" ? facts.maxClasses : config.color ? 3 : 1;
  return { widths, outDim };
}

/**
 * {mode, label, reason} for a network {widths, outDim}: forced (forcedRender), gl (probeGL).
 * label is what the page shows ("GPU", "server"); reason says why, in words.
 */
export function chooseRender({ forced, gl, net }) {
  const server = (reason) => ({ mode: "server", label: "server", reason });
  if (forced === "server") return server("the address asks for server frames (?render=server)");
  if (!gl || !gl.webgl2) return server("this browser has no WebGL2");
  if (!net || !Array.isArray(net.widths)) return server("no network to draw yet");
  const fit = MLPRenderer.fits({ widths: net.widths, outDim: net.outDim });
  if (!fit.ok) return server(`this network is beyond the page's renderer (${fit.reason})`);
  if (gl.software) {
    if (forced !== "client") return server(`WebGL2 here is a software rasterizer (${softwareName(gl.name)}), slower than the server`);
    return { mode: "client", label: `WebGL2 (software, ${softwareName(gl.name)})`, reason: "the address asks for the page's renderer (?render=client)" };
  }
  return { mode: "client", label: "GPU (WebGL2)", reason: gl.name ? `drawn on ${gl.name}` : "drawn by this computer's GPU" };
}
