// The panels part: the three pictures (panels.js), from the server's frames or drawn by the page
// (drawer.js decides who), the view box (viewbox.js: zoom and pan where the page draws), the
// timeline (replay of kept steps), the clip's time bar (cliptime.js), the replay badge, the zoom
// bar and the "Drawn by" pill. Puts `renderer`, `replayStep`, `box`, `dragging` and `isClip` in the
// store; emits "netShown" (a network put on screen by the timeline) and "moment" (a clip's t).

import { facts } from "../shared/facts.js";
import { changedSettings } from "../shared/store.js";
import { ClipTime } from "./cliptime.js";
import { Drawer } from "./drawer.js";
import { Panels } from "./panels.js";
import { Timeline } from "./timeline.js";
import { ZoomControl, describeBox, isSquare } from "./viewbox.js";

const $ = (id) => document.getElementById(id);

export function mountPanels(store) {
  const table = store.table;
  const panels = new Panels({ partition: $("panel-partition"), prediction: $("panel-prediction"), target: $("panel-target") });
  const zoom = new ZoomControl($("panel-partition"), { onChange: (box) => store.set({ box }) });
  // Registered after the zoom's own: the inspector's hover sees whether a drag is going on.
  for (const type of ["pointerdown", "pointermove", "pointerup", "pointercancel"]) {
    $("panel-partition").addEventListener(type, () => store.set({ dragging: zoom.busy }));
  }
  const timeline = new Timeline(
    { bar: $("timeline-bar"), slider: $("timeline"), play: $("timeline-play"), speed: $("timeline-speed"),
      live: $("timeline-live"), readout: $("timeline-step"), note: $("timeline-note") },
    { onShow: (net, replay) => showNet(net, replay), onReplay: (step) => store.set({ replayStep: step }) },
  );
  const clip = new ClipTime(
    { bar: $("clip-bar"), slider: $("time-slider"), play: $("time-play"), readout: $("time-readout") },
    { onTime: (t) => store.updateSettings({ t }) },
  );
  const drawer = new Drawer(store, {
    onPainter: (gpu) => {
      gpu.setTime(store.moment());
      gpu.setView(store.get("box"));
    },
  });
  let wasReplay = false;

  // Train/validation point colours are the server's, for the legend as for the dots drawn.
  for (const [name, color] of Object.entries(facts.pointColors)) document.documentElement.style.setProperty(`--${name}`, color);
  const showOptions = (s) => panels.setOptions({ fillRegions: s.fill_regions, boundaries: s.boundaries });
  showOptions(store.get("settings"));

  /** The panels say when they show a past step (null: live). */
  function showReplay(step) {
    const badge = $("replay-badge");
    badge.hidden = step === null;
    badge.textContent = step === null ? "" : `replay · step ${step}`;
    $("panels").dataset.replay = String(step !== null);
  }

  /** The timeline put `net` on screen (the newest, or a replayed step). */
  function showNet(net, replay) {
    drawer.gpu.setNet(net);
    panels.setPainter(drawer.gpu);
    panels.repaint();
    showReplay(replay ? net.step : null);
    const chosen = replay || wasReplay; // the person moved the timeline: answer at once
    wasReplay = replay;
    store.emit("netShown", net, { replay, chosen });
  }

  /** The moment t of a clip changed (slider, play, a link): the target frame and its points, and the
   *  page's renderer at the new t; server frames follow from the `view` message. */
  function showMoment() {
    const t = store.get("settings").t;
    clip.setTime(t);
    if (clip.isClip) panels.setTarget(clip.targetUrl(), panels.targetColor);
    panels.setPoints(clip.pointsNow());
    if (drawer.gpu) {
      drawer.gpu.setTime(store.moment());
      panels.repaint();
    }
    store.emit("moment", t);
  }

  store.subscribe("settings", (now, before) => {
    const changed = changedSettings(now, before);
    if (changed.some((name) => table.kindOf(name) === "view")) showOptions(now);
    if (changed.includes("t")) showMoment();
    if (changed.includes("color") && panels.targetUrl) panels.setTarget(panels.targetUrl, now.color);
  });

  store.subscribe("box", (box) => {
    if (drawer.gpu) {
      drawer.gpu.setView(box);
      panels.repaint();
    }
    $("zoom-box").textContent = describeBox(box);
    $("zoom-bar").hidden = isSquare(box);
  });
  $("zoom-reset").addEventListener("click", () => zoom.reset());

  store.subscribe("renderer", (choice, previous) => {
    const el = $("renderer");
    el.dataset.mode = choice.mode;
    el.textContent = choice.mode === "client" ? `Drawn by ${choice.label}` : "Drawn by the server";
    el.title = choice.reason;
    if (previous && previous.mode === choice.mode) return;
    const client = choice.mode === "client";
    $("panels").dataset.render = choice.mode;
    zoom.setEnabled(client); // server pictures show the square only
    timeline.setEnabled(client, client ? "" : `Replay and zoom need the page's own renderer (WebGL2): ${choice.reason}.`);
    if (!client) {
      showReplay(null);
      wasReplay = false;
    }
  });

  store.on("status", (msg, hasRun) => {
    if (hasRun && clip.setRun(msg)) {
      store.set({ isClip: clip.isClip });
      showMoment();
    }
    if (typeof msg.image_url === "string") {
      const color = hasRun && typeof msg.config.color === "boolean" ? msg.config.color : store.get("settings").color;
      panels.setTarget(clip.targetUrl(msg.image_url), color);
    }
  });

  store.on("points", (msg) => {
    clip.setPoints(msg);
    panels.setPoints(clip.pointsNow());
  });

  /** Says so when a server picture comes from a coarser grid than the view's (a very wide network
   *  while it trains: output/frames.py live_resolution); pictures the page draws are at its own. */
  function showLiveGrid(frame) {
    const note = $("live-grid-note");
    const R = frame.net ? null : frame.header.resolution;
    const wanted = store.get("settings").resolution;
    const coarse = Number.isInteger(R) && Number.isInteger(wanted) && R < wanted;
    note.hidden = !coarse;
    const text = coarse ? `Live grid ${R}² · ${wanted}² when paused` : "";
    if (note.textContent !== text) note.textContent = text;
  }

  store.on("frame", (frame) => {
    const renderer = store.get("renderer");
    showLiveGrid(frame);
    if (!frame.net) panels.setFrame(frame);
    else if (renderer && renderer.mode === "client" && drawer.gpu && drawer.gpu.fits(frame.net)) {
      timeline.add(frame.net); // kept; on screen unless an earlier step is replayed
    } // else: weights of a network handed over to server frames, on their way: nothing to draw
  });

  drawer.choose(drawer.netOf(store.get("settings"))); // before any network: from the page's settings

  return { panels, zoom, timeline, clip, get gpu() { return drawer.gpu; } };
}
