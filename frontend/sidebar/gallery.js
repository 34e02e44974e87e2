// The picture chooser: sample thumbnails, uploaded pictures, the file picker and
// drag-and-drop onto the drop zone or the target panel.

import { imageUrl, thumbnailUrl } from "../shared/api.js";

export class Gallery {
  /** onSelect(imageId) when a thumbnail is chosen. */
  constructor(list, { onSelect }) {
    this.list = list;
    this.onSelect = onSelect;
    this.items = new Map(); // id -> button
    this.selected = null;
  }

  setSamples(samples) {
    for (const sample of samples) {
      if (!sample || typeof sample.id !== "string") continue;
      this._add(sample.id, sample.name || sample.id, sample.url || imageUrl(sample.id), `sample-${sample.id}`);
    }
    this._mark();
  }

  /** An uploaded picture (or one named in the URL that is not a sample). */
  addUpload(id, url, name = "Your picture") {
    const existing = this.items.get(id);
    if (existing) return;
    this._add(id, name, url || imageUrl(id), `uploaded-${id}`, true);
    this._mark();
  }

  has(id) {
    return this.items.has(id);
  }

  setSelected(id) {
    this.selected = id;
    this._mark();
  }

  _add(id, name, url, testid, uploaded = false) {
    if (this.items.has(id)) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb" + (uploaded ? " uploaded" : "");
    button.dataset.testid = testid;
    button.dataset.imageId = id;
    button.title = name;
    const img = document.createElement("img");
    img.alt = "";
    img.width = 96;
    img.height = 96;
    img.loading = "lazy";
    img.decoding = "async";
    img.addEventListener("error", () => img.classList.add("broken"));
    img.src = thumbnailUrl(url, 96);
    const caption = document.createElement("span");
    caption.className = "thumb-name";
    caption.textContent = name;
    button.append(img, caption);
    button.addEventListener("click", () => this.onSelect(id));
    if (uploaded) this.list.prepend(button);
    else this.list.append(button);
    this.items.set(id, button);
  }

  _mark() {
    for (const [id, button] of this.items) {
      const on = id === this.selected;
      button.classList.toggle("selected", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
  }
}

function firstImageFile(dataTransfer) {
  if (!dataTransfer || !dataTransfer.files || dataTransfer.files.length === 0) return null;
  return dataTransfer.files[0];
}

function carriesFiles(event) {
  const types = event.dataTransfer ? event.dataTransfer.types : null;
  return types ? [...types].includes("Files") : false;
}

/**
 * The file picker and drop targets; onFile(file) for each chosen or dropped file.
 * Drops anywhere else on the page are swallowed so the browser does not navigate away.
 */
export function wireUpload({ input, dropTargets, onFile }) {
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    if (file) onFile(file);
    input.value = ""; // choosing the same file again still fires "change"
  });

  for (const target of dropTargets) {
    let depth = 0;
    target.addEventListener("dragenter", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth += 1;
      target.classList.add("dragging");
    });
    target.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    target.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) target.classList.remove("dragging");
    });
    target.addEventListener("drop", (event) => {
      event.preventDefault();
      event.stopPropagation();
      depth = 0;
      target.classList.remove("dragging");
      const file = firstImageFile(event.dataTransfer);
      if (file) onFile(file);
    });
  }

  window.addEventListener("dragover", (event) => {
    if (carriesFiles(event)) event.preventDefault();
  });
  window.addEventListener("drop", (event) => {
    if (carriesFiles(event)) event.preventDefault();
  });
}
