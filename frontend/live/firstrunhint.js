// The one-line "press Train" hint on the partition panel (issue 28): shown to a visitor who has
// never trained here, gone for good once a run starts (remembered in localStorage, when the
// browser keeps it).

const SEEN = "polytopeLens.trained";

function remembered() {
  try {
    return window.localStorage.getItem(SEEN) === "1";
  } catch {
    return false; // storage refused (privacy mode): the hint shows until this page's first run
  }
}

function remember() {
  try {
    window.localStorage.setItem(SEEN, "1");
  } catch {
    /* not kept: nothing else to do */
  }
}

export function mountFirstRunHint(store) {
  const hint = document.getElementById("first-run-hint");
  if (!hint) return {};
  hint.hidden = remembered();
  store.subscribe("run", (run) => {
    if (hint.hidden || (run !== "running" && run !== "configuringToRun")) return;
    hint.hidden = true;
    remember();
  });
  return { hint };
}
