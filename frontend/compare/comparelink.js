// The top bar's "Compare runs" link: shown only when the server browses a sweep folder
// (`polytope-lens serve --runs DIR`), as /api/options says; /api/runs is not asked otherwise,
// so a plain server's page logs no failed request.
const link = document.getElementById("compare-link");

async function showLink() {
  const options = await fetch("/api/options").then((r) => (r.ok ? r.json() : null));
  if (!link || !options?.runs?.available) return;
  const listing = await fetch("/api/runs").then((r) => (r.ok ? r.json() : null));
  if (!listing) return;
  link.textContent = `Compare runs (${listing.runs.length})`;
  link.hidden = false;
}

showLink().catch(() => {});
