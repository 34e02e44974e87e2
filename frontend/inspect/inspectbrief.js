// The inspector's compact card, over the partition panel where the click was: the region's area,
// its affine map f(x, y) = A·(x, y) + c (a classifier: the winning class's score), how many of the
// inequalities bind, and a link that brings the full card (inspector.js) into view and focuses it.
// It sits in the corner of the panel away from the inspected point, so it never hides the region.

import { fmt } from "./inspector.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** An area and its share of the square [-1, 1]² (area 4), short. */
function shortArea(area) {
  if (typeof area !== "number") return "—";
  const share = (area / 4) * 100;
  return `${area.toExponential(2)} (${share >= 0.01 ? share.toFixed(2) : share.toExponential(0)}% of the square)`;
}

/** "a x ± b y ± c" with the page's number format. */
function affine(ax, ay, c, digits = 4) {
  const sign = (v) => (v < 0 ? "−" : "+");
  return `${fmt(ax, digits)} x ${sign(ay)} ${fmt(Math.abs(ay), digits)} y ${sign(c)} ${fmt(Math.abs(c), digits)}`;
}

export class InspectorBrief {
  /** host: the partition panel's box (the card is placed in it); full: the full inspector card;
   *  onClear() when the card's × is pressed. */
  constructor({ host, full, onClear }) {
    this.full = full;
    const card = el("div", "inspect-brief");
    card.dataset.testid = "inspector-brief";
    card.setAttribute("role", "status");
    card.setAttribute("aria-label", "The inspected region, in short");
    const head = el("div", "brief-head");
    this.title = el("span", "brief-title");
    const close = el("button", "brief-close", "×");
    close.type = "button";
    close.title = "Clear the inspected region";
    close.setAttribute("aria-label", close.title);
    close.dataset.testid = "inspector-brief-clear";
    close.addEventListener("click", () => onClear());
    head.append(this.title, close);
    this.area = el("div", "brief-row");
    this.area.dataset.testid = "inspector-brief-area";
    this.map = el("div", "brief-row brief-map");
    this.map.dataset.testid = "inspector-brief-map";
    this.binding = el("div", "brief-row");
    this.binding.dataset.testid = "inspector-brief-binding";
    const more = el("a", "brief-more", "Full card ↓");
    more.title = "The activation pattern, every inequality, the autograd check, copy as text";
    more.href = `#${full.id}`;
    more.dataset.testid = "inspector-brief-more";
    more.addEventListener("click", (event) => {
      event.preventDefault();
      this.openFull();
    });
    card.append(head, this.area, this.map, this.binding, more);
    card.hidden = true;
    host.append(card);
    this.card = card;
  }

  /** Scroll the full card into view and move the focus there (keyboard and screen readers follow). */
  openFull() {
    if (!this.full.hasAttribute("tabindex")) this.full.setAttribute("tabindex", "-1");
    this.full.scrollIntoView({ behavior: "smooth", block: "start" });
    this.full.focus({ preventScroll: true });
  }

  /** An /inspect answer (null: nothing inspected); `pinned`: a click's, else the resting pointer's. */
  show(data, { pinned = false, replay = false, box = null } = {}) {
    const card = this.card;
    if (!data) {
      card.hidden = true;
      card.dataset.state = "empty";
      return;
    }
    card.hidden = false;
    card.dataset.state = "ready";
    card.dataset.pinned = String(pinned);
    card.dataset.step = String(data.step);
    const [x, y] = data.point;
    this._place(x, y, box);
    this.title.textContent = `Region at (${x.toFixed(3)}, ${y.toFixed(3)}), step ${data.step}${replay ? " (replay)" : ""}`;
    this.area.replaceChildren(el("span", "brief-label", "Area"), el("span", "brief-value", shortArea(data.area)));
    this.area.dataset.value = String(data.area);
    this.map.replaceChildren(el("span", "brief-label", "Map"));
    const lines = el("span", "brief-value");
    if (data.classify) {
      const k = data.classify.winner;
      const m = data.classify.maps[k];
      lines.append(el("span", "brief-line", `s${k}(x, y) = ${affine(m.A[0], m.A[1], m.c)}`),
        el("span", "brief-note", `class ${k} wins at the point`));
    } else {
      const names = data.gradient.length === 3 ? ["R", "G", "B"] : data.gradient.length === 1 ? [""] : data.gradient.map((_, i) => String(i));
      data.gradient.forEach((g, i) => lines.append(el("span", "brief-line", `f${names[i]}(x, y) = ${affine(g[0], g[1], data.c[i])}`)));
    }
    this.map.append(lines);
    const bound = data.inequalities.filter((q) => q.binding).length;
    const sides = data.box_sides.filter((s) => s.binding).length;
    this.binding.dataset.value = String(bound);
    this.binding.replaceChildren(el("span", "brief-label", "Bind"), el("span", "brief-value",
      `${bound} of ${data.inequalities.length} inequalities${sides ? ` (+ ${sides} box side${sides === 1 ? "" : "s"})` : ""}`));
  }

  /** The server's words when it could not inspect the point. */
  error(message) {
    this.card.hidden = false;
    this.card.dataset.state = "error";
    this.title.textContent = message;
    for (const row of [this.area, this.map, this.binding]) row.replaceChildren();
  }

  /** The corner of the panel diagonally away from the point (box: the view box, null: the square). */
  _place(x, y, box) {
    const { x0, x1, y0, y1 } = box || { x0: -1, x1: 1, y0: -1, y1: 1 };
    const right = (x - x0) / (x1 - x0) < 0.5; // the point is on the left: the card goes right
    const bottom = (y - y0) / (y1 - y0) > 0.5; // the point is in the upper half: the card goes down
    const corner = `${bottom ? "b" : "t"}${right ? "r" : "l"}`;
    this.card.dataset.corner = corner;
    for (const c of ["tl", "tr", "bl", "br"]) this.card.classList.toggle(`at-${c}`, c === corner);
  }
}
