// The parts of the page, in the order they mount. Each is a function mount(store) in the folder of
// its concern: it finds its own elements, subscribes to the store and returns what it made (for
// the console and the browser tests, as window.polytopeLens). A new panel is one more line here.
// The live run mounts last: it connects, and every part must be listening by then.

import { mountCharts } from "./charts/chartsview.js";
import { mountRunSummary } from "./charts/runsummary.js";
import { mountPanels } from "./drawing/panelsview.js";
import { mountHandEdits } from "./inspect/handedits.js";
import { mountInspection } from "./inspect/inspectview.js";
import { mountLiveRun } from "./live/liverun.js";
import { mountFirstRunHint } from "./live/firstrunhint.js";
import { mountRunBar } from "./live/runbar.js";
import { mountNetworkFile } from "./sidebar/networkfile.js";
import { mountSidebar } from "./sidebar/sidebarview.js";
import { mountSurface } from "./surface/surfaceview.js";

export const PARTS = [mountSidebar, mountNetworkFile, mountPanels, mountInspection, mountHandEdits, mountSurface,
  mountCharts, mountRunSummary, mountRunBar, mountFirstRunHint, mountLiveRun];
