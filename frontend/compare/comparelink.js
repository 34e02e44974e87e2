// The top bar's "Compare runs" link: shown only when the server browses a sweep folder
// (`polytope-lens serve --runs DIR`), as /api/options says; /api/runs is not asked otherwise,
// so a plain server's page logs no failed request.
import { fetchRunsIfAny, knownOptions } from "../shared/api.js";

const link = document.getElementById("compare-link");

async function showLink() {
  const options = await knownOptions();
  if (!link || !options?.runs?.available) return;
  const listing = await fetchRunsIfAny();
  if (!listing) return;
  // "runs" is dropped on phones (style.css), so the title beside it keeps its room
  const word = document.createElement("span");
  word.className = "compare-runs-word";
  word.textContent = " runs";
  link.replaceChildren("Compare", word, ` (${listing.runs.length})`);
  link.title = `Compare the ${listing.runs.length} runs of the sweep side by side`;
  link.hidden = false;
}

showLink().catch(() => {});
