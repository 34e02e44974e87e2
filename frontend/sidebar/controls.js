// Sidebar and panel controls: every element with data-prop edits that setting;
// the depth/width sliders write the layers field and the log-scale
// learning-rate slider mirrors the lr number input. Bounds and choices are the
// server's (Settings); the slider ranges are only comfortable spans inside them.

import { parseWidths, uniformLayers } from "../shared/layers.js";

const LR_MIN_EXP = -5;
const LR_MAX_EXP = 0;
const KIND_WORDS = {
  network: "start a new network",
  training: "apply to the running network",
  view: "only change the drawing",
};

function formatLr(lr) {
  if (!Number.isFinite(lr)) return "—";
  if (lr >= 0.01 && lr < 100) return String(Number(lr.toPrecision(3)));
  return lr.toExponential(2).replace(/\.?0+e/, "e").replace("e-0", "e-").replace("e+", "e");
}

/** A slider position (log10) to a learning rate with 3 significant digits. */
function lrFromExp(exp) {
  return Number((10 ** exp).toPrecision(3));
}

function countParameters(widths, out) {
  const sizes = [2, ...widths, out];
  let n = 0;
  for (let i = 0; i + 1 < sizes.length; i++) n += sizes[i] * sizes[i + 1] + sizes[i + 1];
  return n;
}

/** The words of an input's label (without the value it shows), lower-case first letter. */
function labelText(input) {
  const label = input.labels && input.labels[0];
  let text = input.getAttribute("aria-label") || input.dataset.prop;
  if (label) {
    const copy = label.cloneNode(true);
    copy.querySelectorAll("input, select, output").forEach((e) => e.remove());
    text = copy.textContent;
  }
  text = text.trim();
  return text && text[0].toLowerCase() + text.slice(1);
}

/** What values `row` accepts, in words: "a whole number from 1 to 262,144". */
export function describeBounds(row) {
  const n = (v) => (typeof v === "number" ? v.toLocaleString("en") : String(v));
  const what = row.type === "int" ? "a whole number" : "a number";
  const low = row.min !== undefined ? n(row.min) : row.min_exclusive !== undefined ? `above ${n(row.min_exclusive)}` : null;
  const high = row.max !== undefined ? n(row.max) : row.max_exclusive !== undefined ? `below ${n(row.max_exclusive)}` : null;
  if (row.min !== undefined && row.max !== undefined) return `${what} from ${low} to ${high}`;
  return [what, low && (row.min !== undefined ? `of at least ${low}` : low), high && (row.max !== undefined ? `of at most ${high}` : high)]
    .filter(Boolean)
    .join(" ");
}

/** The short sentence beside a field (the server's, or the page's own about bounds); null removes it. */
function showFieldNote(input, name, message) {
  const box = input.closest(".field") || input.parentElement;
  if (!box) return;
  let note = box.querySelector(":scope > .field-error");
  if (!message) {
    if (note) note.remove();
    return;
  }
  if (!note) {
    note = document.createElement("p");
    note.className = "field-error";
    box.append(note);
  }
  note.dataset.testid = `field-error-${name}`;
  note.textContent = message;
}

export class Controls {
  /**
   * onChange(patch) is called with {name: value} for every accepted edit.
   */
  constructor(root, settings, { onChange }) {
    this.root = root;
    this.settings = settings;
    this.onChange = onChange;
    this.state = null;
    this.classCount = null; // classes of the picture of the last classifier built
    this.inputs = [...root.querySelectorAll("[data-prop]")].filter((input) => settings.row(input.dataset.prop));
    this.el = (id) => root.getElementById(id);

    for (const input of this.inputs) {
      this._applyRow(input, settings.row(input.dataset.prop));
      this._bind(input);
    }
    this._describeKinds();

    this.depth = this.el("depth-slider");
    this.width = this.el("width-slider");
    this.depth.max = String(settings.limits.max_depth); // every depth the server takes (issue 28: 40 layers)
    this.width.max = String(Math.min(Number(this.width.max), settings.limits.max_width));
    this.layers = this.el("layers-input");
    for (const slider of [this.depth, this.width]) {
      slider.addEventListener("input", () => {
        const layers = `${this.width.value}x${this.depth.value}`;
        this.layers.value = layers;
        this.layers.classList.remove("invalid");
        this._sliderLabels();
        this.onChange({ layers });
      });
    }

    this.lrSlider = this.el("lr-slider");
    this.lrInput = this.el("lr-input");
    this.lrSlider.addEventListener("input", () => {
      const lr = lrFromExp(Number(this.lrSlider.value));
      this.lrInput.value = String(lr);
      this.lrInput.classList.remove("invalid");
      this.el("lr-value").textContent = formatLr(lr);
      this.onChange({ lr });
    });
  }

  /** The server's bounds on a number field, its choices in a select (keeping the page's labels). */
  _applyRow(input, row) {
    if (input.type === "number") {
      for (const bound of ["min", "max"]) {
        if (row[bound] !== undefined) input.setAttribute(bound, String(row[bound]));
        else input.removeAttribute(bound); // an open bound is checked in Settings.coerce
      }
    }
    if (input.tagName !== "SELECT") return;
    if (row.type === "choice") {
      const labels = new Map([...input.options].map((o) => [o.value, o.textContent]));
      input.replaceChildren(...row.choices.map((value) => new Option(labels.get(value) || value, value)));
    } else {
      // Presets (e.g. grid sizes) outside the server's bounds are not offered.
      for (const option of [...input.options]) {
        if (this.settings.coerce(row.name, option.value) === undefined) option.remove();
      }
    }
  }

  /** The hint saying which settings do what, from the kinds the server gives them. */
  _describeKinds() {
    const hint = this.el("kinds-hint");
    if (!hint) return;
    const names = { network: [], training: [], view: [] };
    for (const input of this.inputs) {
      const kind = this.settings.kindOf(input.dataset.prop);
      const words = labelText(input);
      if (names[kind] && words && !names[kind].includes(words)) names[kind].push(words);
    }
    if (this.settings.kindOf("image") === "network") names.network.unshift("picture");
    hint.textContent = Object.entries(names)
      .filter(([, list]) => list.length)
      .map(([kind, list]) => {
        const text = `${list.join(", ")}: ${KIND_WORDS[kind]}.`;
        return text[0].toUpperCase() + text.slice(1);
      })
      .join(" ");
  }

  _bind(input) {
    const prop = this.settings.row(input.dataset.prop);
    const isCheck = input.type === "checkbox";
    const event = isCheck || input.tagName === "SELECT" ? "change" : "input";
    input.addEventListener(event, () => {
      const raw = isCheck ? input.checked : input.value;
      const value = this.settings.coerce(prop.name, raw);
      if (value === undefined) {
        input.classList.add("invalid");
        if (!isCheck && input.tagName !== "SELECT") {
          const label = labelText(input) || prop.name;
          showFieldNote(input, prop.name, `${label[0].toUpperCase()}${label.slice(1)} must be ${describeBounds(prop)}.`);
        }
        return;
      }
      input.classList.remove("invalid");
      if (!input.classList.contains("server-invalid")) showFieldNote(input, prop.name, null);
      this._afterEdit(prop.name, value);
      this.onChange({ [prop.name]: value });
    });
    if (!isCheck && input.tagName !== "SELECT") {
      // Show the accepted value again when the person leaves a field they left invalid.
      input.addEventListener("blur", () => {
        if (input.classList.contains("invalid") && this.state && this.settings.coerce(prop.name, input.value) === undefined) {
          const note = (input.closest(".field") || input).querySelector(".field-error");
          if (note && !/kept /.test(note.textContent)) note.textContent += ` (kept ${this.state[prop.name]})`;
          input.value = String(this.state[prop.name]);
          input.classList.remove("invalid");
        }
      });
    }
  }

  /** Side effects of an edit on other controls (sliders follow the layers field, and so on). */
  _afterEdit(name, value) {
    if (this.state) this.state = { ...this.state, [name]: value };
    if (name === "layers") this._syncLayerSliders(value);
    if (name === "lr") this._syncLrSlider(value);
    this._visibility();
    this._paramCount();
  }

  _syncLayerSliders(spec) {
    const uniform = uniformLayers(spec);
    const fits =
      uniform &&
      uniform.depth <= Number(this.depth.max) &&
      uniform.width <= Number(this.width.max);
    if (fits) {
      this.depth.value = String(uniform.depth);
      this.width.value = String(uniform.width);
    }
    this.depth.classList.toggle("custom", !fits);
    this.width.classList.toggle("custom", !fits);
    if (fits) this._sliderLabels();
    else {
      // past a slider's range, or layers of several widths: the typed value where there is one
      const widths = parseWidths(spec, Number(this.depth.max));
      this.el("depth-value").textContent = widths ? String(widths.length) : "—";
      this.el("width-value").textContent = uniform ? String(uniform.width) : "—";
    }
  }

  _sliderLabels() {
    this.el("depth-value").textContent = this.depth.value;
    this.el("width-value").textContent = this.width.value;
  }

  _syncLrSlider(lr) {
    const exp = Math.log10(lr);
    this.lrSlider.value = String(Math.min(LR_MAX_EXP, Math.max(LR_MIN_EXP, exp)));
    this.el("lr-value").textContent = formatLr(lr);
  }

  _visibility() {
    if (!this.state) return;
    this.el("slope-field").hidden = this.state.activation !== "leaky_relu";
    this.el("momentum-field").hidden = this.state.optimizer !== "sgd_momentum";
    this.el("label-noise-field").hidden = this.state.task !== "classify";
  }

  /** A classifier's output count, once the server found the picture's classes (null: unknown). */
  setClassCount(count) {
    this.classCount = count;
    this._paramCount();
  }

  _paramCount() {
    const out = this.el("param-count");
    if (!this.state || !out) return;
    const widths = this.settings.widths(this.state.layers);
    if (!widths) {
      out.textContent = "";
      return;
    }
    if (widths.some((w) => !(w >= 1))) {
      out.textContent = "Every hidden layer needs at least one neuron.";
      return;
    }
    const neurons = widths.reduce((a, b) => a + b, 0);
    const count = (k, word) => `${k.toLocaleString("en")} ${word}${k === 1 ? "" : "s"}`;
    const head = `${count(widths.length, "hidden layer")}, ${count(neurons, "neuron")}`;
    if (this.state.task === "classify" && !this.classCount) {
      out.textContent = `${head}, one output per class of the picture`; // known once the server read it
      return;
    }
    const n = countParameters(widths, this.state.task === "classify" ? this.classCount : this.state.color ? 3 : 1);
    out.textContent = `${head}, ${count(n, "parameter")}`;
  }

  /** Write the state into every control, except the one the person is typing in. */
  render(state) {
    this.state = { ...state };
    const active = document.activeElement;
    for (const input of this.inputs) {
      const name = input.dataset.prop;
      const value = state[name];
      if (value === undefined) continue;
      if (input.type === "checkbox") {
        input.checked = Boolean(value);
      } else if (input !== active) {
        if (input.tagName === "SELECT" && ![...input.options].some((o) => o.value === String(value))) {
          const option = document.createElement("option");
          option.value = String(value);
          option.textContent = name === "resolution" ? `${value} × ${value}` : String(value);
          input.append(option);
        }
        input.value = String(value);
        input.classList.remove("invalid");
      }
    }
    this._syncLayerSliders(state.layers);
    this._syncLrSlider(state.lr);
    this._visibility();
    this._paramCount();
  }

  /** Mark the control of a config field the server rejected (null clears all marks), with
   * the server's sentence beside it: a red border alone does not say what is wrong. */
  markInvalid(field, message = "") {
    for (const input of this.inputs) {
      const refused = field !== null && input.dataset.prop === field;
      input.classList.toggle("server-invalid", refused);
      if (!refused) {
        if (!input.classList.contains("invalid")) showFieldNote(input, input.dataset.prop, null);
      } else if (message) {
        showFieldNote(input, field, message);
      }
    }
  }

}
