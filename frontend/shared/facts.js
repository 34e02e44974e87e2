// Facts the server states once, in Python, and publishes in GET /api/options (docs/protocol.md):
// how its pictures are painted (boundary fading, edge, decision and point colours, the faded
// target) and the most classes a classifier has. The page paints with these, never with copies.
// Read when the first module that paints is loaded: the page's entry loads those only once the
// server has answered; the Compare page and the renderer's tests wait for the answer here.

import { knownOptions } from "./api.js";
import { readFacts } from "./settings.js";

export const facts = readFacts(await knownOptions());
