// The compact step / loss line beside the run controls on a phone (issue 28), where the readouts
// are screens below. It repeats what the Step and Train loss readouts show (live or replayed),
// so it can never say something else: it watches their text.

const $ = (id) => document.getElementById(id);

export function mountRunSummary() {
  const line = $("run-summary");
  const step = $("step-counter");
  const loss = $("train-loss");
  if (!line || !step || !loss) return {};
  const show = () => {
    line.textContent = `step ${step.textContent.trim()} · loss ${loss.textContent.trim()}`;
  };
  const observer = new MutationObserver(show);
  for (const el of [step, loss]) observer.observe(el, { childList: true, characterData: true, subtree: true });
  show();
  return { runSummary: line };
}
