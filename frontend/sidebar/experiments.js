// The Experiments menu: ready runs from GET /api/presets (core/presets.py). Loading one puts its
// full configuration (and the view it suggests) into the page's state, so the URL then holds it
// and the usual configure follows; the note says what the experiment shows.

import { fetchPresets } from "../shared/api.js";

export class Experiments {
  /** `select`, `note`: elements; `onLoad(patch, preset)`: apply a state patch. */
  constructor({ select, note }, { onLoad }) {
    this.select = select;
    this.note = note;
    this.onLoad = onLoad;
    this.presets = new Map();
    select.addEventListener("change", () => this.load(select.value));
  }

  async fetch() {
    const presets = await fetchPresets();
    for (const p of presets) {
      this.presets.set(p.id, p);
      const option = document.createElement("option");
      option.value = p.id;
      option.textContent = p.name;
      this.select.append(option);
    }
    return presets;
  }

  load(id) {
    const preset = this.presets.get(id);
    if (!preset) {
      this.note.textContent = "";
      return;
    }
    const pair = preset.compare_with && this.presets.get(preset.compare_with);
    const steps = preset.steps ? `Train about ${preset.steps.toLocaleString()} steps.` : "Nothing to train: it is built by hand.";
    this.note.textContent = `${preset.description} ${steps}${pair ? ` Compare with “${pair.name}”.` : ""}`;
    this.onLoad({ ...preset.config, ...preset.view }, preset);
  }
}
