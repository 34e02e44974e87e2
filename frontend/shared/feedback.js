// What the page tells the person: the error banner (one entry per source, so
// each clears on its own when its cause is resolved) and the fading notice.

export class ErrorBanner {
  /** bar: the visible strip; text: the list that holds one row per message, newest first. */
  constructor(bar, text) {
    this.bar = bar;
    this.text = text;
    this.entries = new Map(); // source -> message, in insertion order (the last one is the newest)
    this._render();
  }

  set(source, message) {
    this.entries.delete(source);
    this.entries.set(source, message);
    this._render();
  }

  clear(source) {
    if (this.entries.delete(source)) this._render();
  }

  /** Clear every source whose name starts with `prefix`. */
  clearPrefix(prefix) {
    let changed = false;
    for (const source of [...this.entries.keys()]) {
      if (source.startsWith(prefix)) changed = this.entries.delete(source) || changed;
    }
    if (changed) this._render();
  }

  clearAll() {
    this.entries.clear();
    this._render();
  }

  /** The newest message (what the person just caused), or null. */
  latest() {
    const all = [...this.entries.values()];
    return all.length ? all[all.length - 1] : null;
  }

  _render() {
    // One row per message, the newest on top, each with its own dismiss button: an old
    // message never runs into a new one. The same words are shown once.
    const rows = [];
    const seen = new Set();
    for (const [source, message] of [...this.entries].reverse()) {
      if (seen.has(message)) continue;
      seen.add(message);
      const row = document.createElement("div");
      row.className = "error-entry";
      row.dataset.testid = "error-entry";
      row.dataset.source = source;
      const words = document.createElement("span");
      words.className = "error-text";
      words.textContent = message;
      const close = document.createElement("button");
      close.type = "button";
      close.className = "error-close";
      close.dataset.testid = "error-dismiss";
      close.setAttribute("aria-label", "Dismiss this message");
      close.title = "Dismiss";
      close.textContent = "×";
      close.addEventListener("click", () => {
        for (const [s, m] of [...this.entries]) if (m === message) this.entries.delete(s);
        this._render();
      });
      row.append(words, close);
      rows.push(row);
    }
    this.text.replaceChildren(...rows);
    this.text.hidden = rows.length === 0;
    this.bar.hidden = rows.length === 0;
  }
}

export class Notice {
  constructor(element, visibleMs = 3200) {
    this.element = element;
    this.visibleMs = visibleMs;
    this.timers = [];
    element.hidden = true;
  }

  show(message) {
    this.timers.forEach(clearTimeout);
    this.element.textContent = message;
    this.element.hidden = false;
    this.element.classList.remove("fading");
    // Restart the entry animation.
    void this.element.offsetWidth;
    this.element.classList.add("shown");
    this.timers = [
      setTimeout(() => this.element.classList.add("fading"), this.visibleMs),
      setTimeout(() => {
        this.element.hidden = true;
        this.element.classList.remove("shown", "fading");
      }, this.visibleMs + 700),
    ];
  }
}
