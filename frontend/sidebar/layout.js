// The settings: a sidebar that can be hidden on wide screens, a sheet over the page on narrow
// ones (closed at first, so the panels come first). The choice is the body's data-settings.

const NARROW = "(max-width: 1099px)";

export class SettingsSheet {
  constructor({ body, toggle, close, sheet }) {
    this.body = body;
    this.toggle = toggle;
    this.sheet = sheet;
    this.narrow = window.matchMedia(NARROW);
    this.set(!this.narrow.matches);
    toggle.addEventListener("click", () => this.set(!this.open));
    close.addEventListener("click", () => this.set(false));
    // Switching between wide and narrow: the sidebar shows on wide screens, the sheet closes.
    this.narrow.addEventListener("change", () => this.set(!this.narrow.matches));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.open && this.narrow.matches) this.set(false);
    });
    // Narrow: a tap outside the sheet closes it.
    document.addEventListener("pointerdown", (event) => {
      if (!this.open || !this.narrow.matches) return;
      if (this.sheet.contains(event.target) || this.toggle.contains(event.target)) return;
      this.set(false);
    });
  }

  set(open) {
    this.open = open;
    this.body.dataset.settings = open ? "open" : "closed";
    this.toggle.setAttribute("aria-expanded", String(open));
  }
}
