// The input box the partition and prediction panels show: x0..x1 left to right,
// y0..y1 bottom to top, the square [-1, 1]² unless the person zoomed. Every pixel is
// evaluated anew at every zoom (the page's renderer), so zooming shows regions too small
// for the square's grid and how the partition goes on outside the training square.
// ZoomControl turns wheel, drag and pinch on a canvas into new boxes.

export const SQUARE = Object.freeze({ x0: -1, x1: 1, y0: -1, y1: 1 });

const MIN_SPAN = 5e-4; // pixel steps stay far above float32 rounding of the coordinates
const MAX_SPAN = 32;
const MAX_CENTRE = 64;
const WHEEL_RATE = 0.0015; // zoom factor per wheel pixel: exp(rate * deltaY)
const DRAG_PX = 4; // a press that moves less is a click (inspect), not a drag

export function isSquare(box) {
  return box.x0 === -1 && box.x1 === 1 && box.y0 === -1 && box.y1 === 1;
}

/** The canvas pixel (w x h) of input point p. */
export function toPixel(box, p, w, h) {
  return [((p[0] - box.x0) / (box.x1 - box.x0)) * w, ((box.y1 - p[1]) / (box.y1 - box.y0)) * h];
}

/** The input point at fractions (u, v) of the canvas, from its top-left corner. */
export function toPoint(box, u, v) {
  return [box.x0 + u * (box.x1 - box.x0), box.y1 - v * (box.y1 - box.y0)];
}

/** The input point under a pointer event on `element` (may lie outside [-1, 1]² when zoomed out). */
export function eventPoint(event, element, box = SQUARE) {
  const rect = element.getBoundingClientRect();
  return toPoint(box, (event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height);
}

/** `box` scaled by `factor` (> 1 zooms out) about the point at fractions (u, v), within the limits. */
export function zoomAbout(box, u, v, factor) {
  const span = box.x1 - box.x0;
  const f = Math.min(MAX_SPAN, Math.max(MIN_SPAN, span * factor)) / span;
  const [px, py] = toPoint(box, u, v);
  return clampCentre({ x0: px + (box.x0 - px) * f, x1: px + (box.x1 - px) * f, y0: py + (box.y0 - py) * f, y1: py + (box.y1 - py) * f });
}

/** `box` moved so that the content follows the pointer by (du, dv) fractions of the canvas. */
export function panBy(box, du, dv) {
  const dx = -du * (box.x1 - box.x0), dy = dv * (box.y1 - box.y0);
  return clampCentre({ x0: box.x0 + dx, x1: box.x1 + dx, y0: box.y0 + dy, y1: box.y1 + dy });
}

function clampCentre(box) {
  const shift = (lo, hi) => {
    const c = (lo + hi) / 2;
    return Math.min(MAX_CENTRE, Math.max(-MAX_CENTRE, c)) - c;
  };
  const sx = shift(box.x0, box.x1), sy = shift(box.y0, box.y1);
  return { x0: box.x0 + sx, x1: box.x1 + sx, y0: box.y0 + sy, y1: box.y1 + sy };
}

/** "x −0.5…0.5, y −0.5…0.5 (4×)" */
export function describeBox(box) {
  const span = box.x1 - box.x0;
  const digits = Math.max(2, Math.min(6, Math.ceil(-Math.log10(span)) + 3));
  const f = (v) => Number(v.toFixed(digits)).toString().replace("-", "−");
  const zoom = 2 / span;
  const times = zoom >= 1 ? `${zoom >= 10 ? Math.round(zoom) : zoom.toFixed(1)}×` : `1/${(1 / zoom).toFixed(1)}×`;
  return `x ${f(box.x0)}…${f(box.x1)},\ny ${f(box.y0)}…${f(box.y1)} (${times})`; // a line each (style.css)
}

/** Wheel, drag and two-finger pinch on `canvas` change the box; onChange(box) after each. */
export class ZoomControl {
  constructor(canvas, { onChange }) {
    this.canvas = canvas;
    this.onChange = onChange;
    this.box = SQUARE;
    this.enabled = false;
    this.pointers = new Map(); // pointerId -> [clientX, clientY]
    this.dragged = false; // the press being followed moved: its click is not an inspection
    canvas.addEventListener("wheel", (e) => this._wheel(e), { passive: false });
    canvas.addEventListener("pointerdown", (e) => this._down(e));
    canvas.addEventListener("pointermove", (e) => this._move(e));
    for (const type of ["pointerup", "pointercancel"]) canvas.addEventListener(type, (e) => this._up(e));
    // Capture on the parent runs before the inspector's click on the canvas: a drag's click is swallowed.
    canvas.parentElement.addEventListener("click", (e) => {
      if (e.target === canvas && this.dragged) e.stopPropagation();
      this.dragged = false;
    }, true);
  }

  /** Zoom works only where the page draws the panels itself. */
  setEnabled(on) {
    this.enabled = on;
    this.canvas.classList.toggle("zoomable", on);
    this.pointers.clear();
    if (!on) this.set(SQUARE);
  }

  /** A drag or pinch is going on (hovering should not inspect). */
  get busy() {
    return this.dragged || this.pointers.size > 1;
  }

  set(box) {
    const same = ["x0", "x1", "y0", "y1"].every((k) => box[k] === this.box[k]);
    this.box = isSquare(box) ? SQUARE : Object.freeze({ ...box });
    if (!same) this.onChange(this.box);
  }

  reset() {
    this.set(SQUARE);
  }

  _fraction(clientX, clientY) {
    const rect = this.canvas.getBoundingClientRect();
    return [(clientX - rect.left) / rect.width, (clientY - rect.top) / rect.height, rect];
  }

  _wheel(event) {
    if (!this.enabled) return;
    event.preventDefault(); // the page does not scroll while the panel zooms
    const lines = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? 400 : 1;
    const [u, v] = this._fraction(event.clientX, event.clientY);
    this.set(zoomAbout(this.box, u, v, Math.exp(WHEEL_RATE * event.deltaY * lines)));
  }

  _down(event) {
    if (!this.enabled || (event.pointerType === "mouse" && event.button !== 0)) return;
    this.pointers.set(event.pointerId, [event.clientX, event.clientY]);
    this.start = [event.clientX, event.clientY];
    this.dragged = false;
    this.canvas.setPointerCapture?.(event.pointerId);
  }

  _move(event) {
    const last = this.pointers.get(event.pointerId);
    if (!this.enabled || !last) return;
    const now = [event.clientX, event.clientY];
    if (this.pointers.size === 1) {
      if (!this.dragged && Math.hypot(now[0] - this.start[0], now[1] - this.start[1]) < DRAG_PX) return;
      this.dragged = true;
      const rect = this.canvas.getBoundingClientRect();
      this.pointers.set(event.pointerId, now);
      this.set(panBy(this.box, (now[0] - last[0]) / rect.width, (now[1] - last[1]) / rect.height));
      return;
    }
    // Pinch: the two fingers' distance scales the box about their midpoint, which also pans.
    const other = [...this.pointers.entries()].find(([id]) => id !== event.pointerId)[1];
    const before = [(last[0] + other[0]) / 2, (last[1] + other[1]) / 2], d0 = Math.hypot(last[0] - other[0], last[1] - other[1]);
    const after = [(now[0] + other[0]) / 2, (now[1] + other[1]) / 2], d1 = Math.hypot(now[0] - other[0], now[1] - other[1]);
    this.pointers.set(event.pointerId, now);
    this.dragged = true;
    if (d0 < 1 || d1 < 1) return;
    const [u, v, rect] = this._fraction(before[0], before[1]);
    const zoomed = zoomAbout(this.box, u, v, d0 / d1);
    this.set(panBy(zoomed, (after[0] - before[0]) / rect.width, (after[1] - before[1]) / rect.height));
  }

  _up(event) {
    this.pointers.delete(event.pointerId);
    if (this.pointers.size === 1) this.start = [...this.pointers.values()][0]; // one finger left: it pans from here
    // The click of this press (if any) comes in this same task; after it, hovering inspects again.
    if (this.pointers.size === 0 && this.dragged) setTimeout(() => { this.dragged = false; }, 0);
  }
}
