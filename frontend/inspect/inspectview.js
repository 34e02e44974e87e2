// The inspection part: the overlay over the partition panel, the region inspector, the exact
// geometry (count, layer by layer, exports) and the network diagram with its neuron line (its
// network from the server's /weights where the server draws). Each asks for what the panels show
// (the store's `at()`: a replayed step, a zoomed box, a clip's moment) with the session's token.

import { Overlay } from "../drawing/overlay.js";
import { NetworkDiagram } from "./diagram.js";
import { ServerWeights } from "./diagramfeed.js";
import { Geometry } from "./geometry.js";
import { InspectorBrief } from "./inspectbrief.js";
import { Inspector } from "./inspector.js";
import { DiagramLine } from "./neuronline.js";

const ZOOM_SETTLE_MS = 250; // exact geometry for a new view box once the zooming pauses

const $ = (id) => document.getElementById(id);

export function mountInspection(store) {
  const { banner, table } = store;
  const at = () => store.at();
  const geometryError = (message) => banner.set("geometry", message);
  const overlay = new Overlay($("partition-overlay"), $("panel-partition"));
  // The compact card sits over the partition panel's box, wherever the layout puts that panel.
  const brief = new InspectorBrief({ host: $("panel-partition").parentElement, full: $("inspector"), onClear: () => inspector.clear() });
  const inspector = new Inspector({
    canvas: $("panel-partition"), overlay, root: $("inspector"), onError: geometryError, at, busy: () => store.get("dragging"),
    onShow: (data, how) => (how.error ? brief.error(how.error) : brief.show(data, how)),
    onInspected: (data) => store.emit("inspected", data),
  });
  const geometry = new Geometry({ overlay, at });
  const diagramLine = new DiagramLine({ overlay, at, onError: geometryError });
  const diagram = new NetworkDiagram($("network-diagram"), $("diagram-summary"), {
    onHover: (node) => diagramLine.hover(node),
    onPin: (node) => diagramLine.pin(node),
    onPick: (pick) => store.emit("weightPicked", pick), // the editor (handedits.js) opens beside it
  });
  const serverWeights = new ServerWeights({ onNet: (net) => diagram.setNet(net, store.moment()), at,
                                            onError: (m) => diagram.say(m) });
  let runLayers = null; // the layer string of the network on screen
  let zoomTimer = null;

  /** The session as the server just stated it (every status, and a lost connection): each tool
   *  starts over for a new token; an earlier geometry error is forgotten. */
  function sessionSeen() {
    const token = store.get("token");
    inspector.setToken(token);
    geometry.setToken(token);
    diagramLine.setToken(token);
    serverWeights.setToken(token);
    banner.clear("geometry");
  }
  store.subscribe("token", (token) => {
    if (token === null) sessionSeen(); // the connection closed (a status states a token itself)
  });

  store.subscribe("run", (run) => {
    if (run === "running") inspector.dropHover();
    inspector.setRunning(run === "running");
    geometry.setRunning(run === "running");
  });

  store.on("status", (msg, hasRun) => {
    sessionSeen();
    if (hasRun && msg.config.layers !== runLayers) {
      runLayers = msg.config.layers;
      inspector.clear(); // a new architecture: the inspected neurons no longer exist
      serverWeights.reset();
      diagramLine.pin(null);
      geometry.setWidths(table.widths(msg.config.layers) || []);
    }
  });

  // Another view picked a point (the 3-D surface's facets): inspected as a click on the panel.
  store.on("inspectAt", (point) => {
    if (store.get("token")) inspector.inspect(point, true);
  });

  store.on("points", (msg) => inspector.setClassNames(Array.isArray(msg.classes) ? msg.classes.map((c) => c.name) : []));

  store.on("frame", ({ header: h, net }) => {
    if (!net) {
      inspector.onStep(h.step);
      serverWeights.onFrame(h.step); // the diagram's network: the weights are fetched
      diagramLine.refresh();
    }
    inspector.setDead(h.dead_pattern);
    geometry.onFrame(h);
  });

  store.on("netShown", (net, { chosen }) => {
    inspector.onStep(net.step, chosen);
    diagram.setNet(net, store.moment());
    diagramLine.refresh();
    if (chosen) geometry.refresh();
  });

  store.subscribe("replayStep", (step) => geometry.setReplay(step));
  // An edit by hand changed the network at the step on screen: every tool asks again.
  store.on("edited", () => {
    serverWeights.stale();
    inspector.refresh();
    geometry.refresh();
    diagramLine.refresh();
  });
  store.on("handEdits", (list) => diagram.setEdited(list));

  store.on("moment", () => {
    diagram.setTime(store.moment());
    diagramLine.refresh();
    geometry.refresh();
  });

  store.subscribe("box", (box) => {
    overlay.setView(box);
    clearTimeout(zoomTimer);
    zoomTimer = setTimeout(() => {
      inspector.refresh();
      geometry.refresh();
      diagramLine.refresh();
    }, ZOOM_SETTLE_MS);
  });

  // A network opened from a file and shown on a plane: its three points, numbered, on the partition.
  store.subscribe("network", (net) => overlay.setMarks(net && net.plane ? net.marks : []));
  return { overlay, inspector, brief, geometry, diagram, diagramLine, serverWeights };
}
