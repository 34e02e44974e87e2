// What the page tells the person: the error banner (one entry per source, so
// each clears on its own when its cause is resolved) and the fading notice.

export class ErrorBanner {
  /** bar: the visible strip (with its dismiss button); text: the element holding only the words. */
  constructor(bar, text) {
    this.bar = bar;
    this.text = text;
    this.entries = new Map(); // source -> message, in insertion order
    const close = bar.querySelector(".error-close");
    if (close) close.addEventListener("click", () => this.clearAll());
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

  _render() {
    // The newest first (the one the person just caused); the same words only once.
    const messages = [...new Set([...this.entries.values()].reverse())];
    this.text.textContent = messages.join(" · ");
    this.text.hidden = messages.length === 0;
    this.bar.hidden = messages.length === 0;
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
