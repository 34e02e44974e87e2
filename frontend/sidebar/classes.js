// A classifier's classes in the sidebar: what the server read from the picture's colours
// (the `points` message's `classes`: colour, name, labelled pixels), and its refusal when the
// picture cannot be classified (fewer than 2 classes, too few labelled pixels), in its words.

const SVG = "http://www.w3.org/2000/svg";

/** A colour swatch as SVG: its fill is an attribute, so the page's CSP (style-src 'self') allows it. */
export function swatch(color) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 12 12");
  svg.setAttribute("class", "class-swatch");
  svg.setAttribute("aria-hidden", "true");
  const rect = document.createElementNS(SVG, "rect");
  for (const [k, v] of Object.entries({ x: 0.5, y: 0.5, width: 11, height: 11, rx: 2, fill: color })) rect.setAttribute(k, String(v));
  svg.append(rect);
  return svg;
}

export class ClassList {
  constructor({ box, list, note }) {
    this.els = { box, list, note };
    this.classes = null;
    this.refusal = null;
  }

  /** Shown while the page's task is classify. */
  setVisible(visible) {
    this.els.box.hidden = !visible;
  }

  /** The classes of the network just built ([{color, name, pixels}]), or null (a regression run). */
  setClasses(classes) {
    this.classes = Array.isArray(classes) ? classes : null;
    this.refusal = null; // a network was built: any refusal is resolved
    this._render();
  }

  /** The server's sentence refusing the picture or the points for a classifier; null clears it. */
  setRefusal(message) {
    this.refusal = message || null;
    this._render();
  }

  _render() {
    const { list, note } = this.els;
    list.replaceChildren(
      ...(this.classes || []).map((c, k) => {
        const li = document.createElement("li");
        li.dataset.testid = `class-${k}`;
        const count = document.createElement("span");
        count.className = "class-pixels";
        count.textContent = `${Number(c.pixels).toLocaleString("en")} px`;
        li.append(swatch(c.color), document.createTextNode(` ${c.name} `), count);
        return li;
      }),
    );
    note.classList.toggle("field-error", Boolean(this.refusal));
    note.textContent = this.refusal
      || (this.classes ? "" : "Classes are read from the picture when the network is built: areas of distinct saturated colours; white, gray and black are unlabelled.");
  }
}
