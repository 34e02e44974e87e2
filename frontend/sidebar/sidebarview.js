// The settings part: the sidebar's inputs (controls.js) ↔ the store's settings ↔ the address,
// the picture gallery and uploads, the Experiments menu and a classifier's classes.

import { fetchSamples, imageUrl, uploadImage } from "../shared/api.js";
import { forcedRender } from "../drawing/rendermode.js";
import { changedSettings } from "../shared/store.js";
import { ClassList } from "./classes.js";
import { Controls } from "./controls.js";
import { Experiments } from "./experiments.js";
import { Gallery, wireUpload } from "./gallery.js";
import { SampleTask } from "./sampletask.js";

const $ = (id) => document.getElementById(id);

export function mountSidebar(store) {
  const { banner, table } = store;
  const forced = forcedRender(location.search); // ?render=client|server stays in a shared link
  const classList = new ClassList({ box: $("classes-box"), list: $("classes-list"), note: $("classes-note") });
  const experiments = new Experiments({ select: $("experiment-select"), note: $("experiment-note") }, { onLoad: (patch) => store.updateSettings(patch) });
  const gallery = new Gallery($("gallery"), { onSelect: (id) => selectImage(id, { picked: true }) });
  const sampleTask = new SampleTask({ select: $("task-select"), onUndo: (task) => store.updateSettings({ task }) });
  let samplesLoaded = false;
  let runImage = null; // {id, url} of the picture the server's run uses

  function writeUrl(settings) {
    let query = table.toQuery(settings);
    if (forced) query += `&render=${forced}`;
    if (query !== location.search) history.replaceState(null, "", query + location.hash);
  }

  /** `picked`: a person chose a sample, which brings the task it was made for (sampletask.js). */
  function selectImage(id, { picked = false } = {}) {
    banner.clear("upload");
    store.updateSettings(picked ? sampleTask.pick(id, store.get("settings").task) : { image: id });
  }

  // A picture named in the URL that is not a sample (an earlier upload): listed once the server knows it.
  function listRunImage() {
    if (!runImage || !samplesLoaded || gallery.has(runImage.id)) return;
    gallery.addUpload(runImage.id, runImage.url);
    gallery.setSelected(store.get("settings").image);
  }

  async function loadSamples() {
    if (samplesLoaded) return;
    try {
      const samples = await fetchSamples();
      gallery.setSamples(Array.isArray(samples) ? samples : []);
      sampleTask.setSamples(Array.isArray(samples) ? samples : []);
      samplesLoaded = true;
    } catch (err) {
      console.warn("samples could not be loaded:", err.message);
    }
    listRunImage();
    gallery.setSelected(store.get("settings").image);
  }

  async function upload(file) {
    banner.clear("upload");
    const zone = $("drop-zone");
    zone.classList.add("busy");
    try {
      const result = await uploadImage(file);
      const id = result.image_id;
      gallery.addUpload(id, result.url || imageUrl(id), file.name || "Your picture");
      selectImage(id);
    } catch (err) {
      banner.set("upload", err.message || "Upload failed");
    } finally {
      zone.classList.remove("busy");
    }
  }

  // The address is only rewritten now: a link opened while the server is away keeps its settings.
  const settings = store.get("settings");
  writeUrl(settings);
  const controls = new Controls(document, table, { onChange: (patch) => store.updateSettings(patch) });
  controls.render(settings);
  classList.setVisible(settings.task === "classify");
  gallery.setSelected(settings.image);
  wireUpload({ input: $("upload-input"), dropTargets: [$("drop-zone"), $("target-box")], onFile: (file) => upload(file) });
  experiments.fetch().catch((err) => console.warn(err.message));
  loadSamples();

  store.subscribe("settings", (now, before) => {
    const changed = changedSettings(now, before);
    writeUrl(now);
    controls.render(now);
    if (changed.includes("image")) gallery.setSelected(now.image);
    if (changed.includes("task")) classList.setVisible(now.task === "classify");
  });
  store.subscribe("invalid", (invalid) => controls.markInvalid(invalid ? invalid.field : null, invalid ? invalid.message : ""));

  store.on("connected", () => loadSamples());
  store.on("status", (msg, hasRun) => {
    if (hasRun && typeof msg.config.image === "string") {
      runImage = { id: msg.config.image, url: msg.image_url || imageUrl(msg.config.image) };
      listRunImage();
    }
  });
  store.on("points", (msg) => {
    classList.setClasses(msg.classes || null);
    controls.setClassCount(Array.isArray(msg.classes) ? msg.classes.length : null);
  });
  store.on("serverError", (text, field) => {
    // The picture has no input of its own: a classifier's refusal of it is said under the classes.
    if (field === "image" && store.get("settings").task === "classify") classList.setRefusal(text);
  });

  return { controls, gallery, classList, experiments, sampleTask };
}
