// The numbers part: the readouts, the charts (loss, regions, density; a classifier's accuracy
// and decision boundary), the dynamics charts, a clip's regions-over-t chart, the smoothing
// baseline and the exploding-loss warning; the task's own readouts shown, the other's hidden.

import { pillState } from "../live/runcontrol.js";
import { Baseline } from "./baseline.js";
import { Charts } from "./charts.js";
import { DynamicsCharts } from "./dynamicscharts.js";
import { LossGuard } from "./lossguard.js";
import { Readouts } from "./readouts.js";
import { TimeChart } from "./timechart.js";

const $ = (id) => document.getElementById(id);

export function mountCharts(store) {
  const { banner } = store;
  const readouts = new Readouts();
  const charts = new Charts($("loss-chart"), $("regions-chart"), $("density-chart"),
    { accuracy: $("accuracy-chart"), boundary: $("boundary-chart") });
  const dynamics = new DynamicsCharts({ churn: $("churn-chart"), births: $("births-chart"), dead: $("dead-chart"), deadSource: $("dead-source") });
  const timeChart = new TimeChart($("time-chart"), $("time-chart-note"));
  const baseline = new Baseline({ sigma: $("baseline-sigma"), button: $("baseline-show"), result: $("baseline-result"), image: $("baseline-image") });
  const lossGuard = new LossGuard({
    onChange: (message) => (message ? banner.set("exploding", message) : banner.clear("exploding")),
  });

  /** The readouts and charts of the network's task: accuracy and the decision boundary for a classifier. */
  store.subscribe("task", (task) => {
    const classify = task === "classify";
    for (const el of document.querySelectorAll(".classify-only")) el.hidden = !classify;
    for (const el of document.querySelectorAll(".regress-only")) el.hidden = classify; // e.g. the smoothing baseline: an MSE
    $("loss-hint").textContent = classify ? "softmax cross-entropy, log scale" : "mean squared error, log scale";
    charts.setTask(task);
  });

  store.subscribe("run", (run) => {
    if (pillState(run) !== "offline") readouts.setRunning(run === "running");
  });
  store.subscribe("token", (token) => baseline.setToken(token));
  // While the timeline replays an earlier step, the numbers are of that step (marked "replay").
  store.subscribe("replayStep", (step) => readouts.setReplay(step));

  // A new network, or the same one from step 0 (reset): its curves start again.
  store.on("restarted", ({ reset }) => {
    charts.clear();
    dynamics.clear();
    readouts.clear();
    if (reset) lossGuard.reset();
  });
  store.on("points", () => lossGuard.reset());

  store.on("status", (msg, hasRun) => {
    timeChart.setToken(hasRun && store.get("isClip") ? store.get("token") : null);
    readouts.setStep(msg.step);
  });

  store.on("frame", ({ header: h }) => {
    const runConfig = store.get("runConfig");
    charts.addFrame(h);
    dynamics.addFrame(h);
    lossGuard.observe(h.train_loss, h.step, runConfig ? runConfig.lr : store.get("settings").lr);
    readouts.showFrame(h);
    if (store.get("isClip") && store.get("replayStep") === null) {
      timeChart.onStep(h.step, store.get("run") === "running", store.at());
    }
  });

  store.on("netShown", (net, { replay }) => {
    if (replay && store.get("isClip")) timeChart.onStep(net.step, false, store.at());
  });
  store.on("moment", (t) => timeChart.setTime(t));

  return { readouts, charts, dynamics, timeChart, baseline, lossGuard };
}
