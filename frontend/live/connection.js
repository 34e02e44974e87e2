// The websocket to the server (docs/protocol.md): JSON text messages both ways,
// binary frames from the server, each acknowledged ("received": the server then sends a slow page
// fewer, newer frames, never a backlog), automatic reconnection with back-off. The server
// never sends NaN or Infinity (it refuses to), so plain JSON.parse reads everything.

import { decodeSurface } from "../surface/surfacewire.js";

const MAGIC = [0x50, 0x4c, 0x46, 0x31]; // "PLF1"
const decoder = new TextDecoder("utf-8");
const RECEIVED = JSON.stringify({ type: "received" }); // a frame taken (the server's window: docs/protocol.md)
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1; // the wire's float32 order

export class FrameError extends Error {}

/**
 * Parse one binary frame:
 *   bytes 0..3 "PLF1", bytes 4..7 header length L (uint32 LE), then L bytes of
 *   UTF-8 JSON header, then the payload; section offsets are relative to the payload.
 * Returns {header, sections: {name: Uint8Array view}, net}: `net` is the network of a
 * weights update (render "client"), null for a picture frame; a message of type "surface" (the
 * exact surface, docs/protocol.md) has `surface` instead (surface/surfacewire.js).
 */
export function parseFrame(buffer) {
  if (!(buffer instanceof ArrayBuffer)) throw new FrameError("frame is not an ArrayBuffer");
  if (buffer.byteLength < 8) throw new FrameError(`frame too short (${buffer.byteLength} bytes)`);
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC[i]) throw new FrameError("frame does not start with PLF1");
  }
  const view = new DataView(buffer);
  const headerLength = view.getUint32(4, true);
  if (8 + headerLength > buffer.byteLength) throw new FrameError("frame header runs past the end");
  const header = JSON.parse(decoder.decode(new Uint8Array(buffer, 8, headerLength)));
  const payloadStart = 8 + headerLength;
  const sections = {};
  for (const section of header.sections || []) {
    const offset = Number(section.offset);
    const length = Number(section.length);
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
      throw new FrameError(`section ${section.name}: bad offset or length`);
    }
    if (payloadStart + offset + length > buffer.byteLength) {
      throw new FrameError(`section ${section.name} runs past the end of the frame`);
    }
    sections[section.name] = new Uint8Array(buffer, payloadStart + offset, length);
  }
  if (header.type === "surface") return { header, sections, net: null, surface: decodeSurface(header, sections) };
  if (header.render === "client") return { header, sections, net: networkOf(header, sections.weights) };
  checkSections(header, sections);
  return { header, sections, net: null };
}

/** The network of a client-mode update: {step, widths, outDim, negativeSlope, slopes (one per hidden
 *  layer), weights: Float32Array}. */
function networkOf(header, bytes) {
  const widths = header.widths;
  const outDim = header.out_dim;
  if (!Array.isArray(widths) || widths.length === 0 || !widths.every((w) => Number.isInteger(w) && w > 0)) {
    throw new FrameError("weights update without valid widths");
  }
  if (!Number.isInteger(outDim) || outDim < 1) throw new FrameError(`bad out_dim ${outDim}`);
  const inDim = header.in_dim === 3 ? 3 : 2; // 3: a clip's (x, y, t) network
  const sizes = [inDim, ...widths, outDim];
  let params = 0;
  for (let i = 0; i + 1 < sizes.length; i++) params += sizes[i + 1] * (sizes[i] + 1);
  if (!bytes || bytes.length !== 4 * params) {
    throw new FrameError(`weights section has ${bytes ? bytes.length : 0} bytes, expected ${4 * params}`);
  }
  // A copy: the section may start at any byte, a Float32Array needs 4-byte alignment.
  let weights;
  if (LITTLE_ENDIAN) {
    weights = new Float32Array(bytes.slice().buffer);
  } else {
    weights = new Float32Array(params);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < params; i++) weights[i] = view.getFloat32(4 * i, true);
  }
  const slope = Number(header.negative_slope) || 0;
  const slopes = header.slopes === undefined ? widths.map(() => slope) : header.slopes;
  if (!Array.isArray(slopes) || slopes.length !== widths.length || !slopes.every(Number.isFinite)) {
    throw new FrameError(`bad slopes ${JSON.stringify(header.slopes)} for ${widths.length} hidden layers`);
  }
  // A classifier's class colours ("#rrggbb", one per output): its scores are drawn as a class map.
  const classColors = classColorsOf(header, outDim);
  return { step: header.step, widths, outDim, negativeSlope: slope, slopes, weights, inDim, classColors };
}

/** A frame's class colours as [[r, g, b], ...] (a classifier's), or null (a regression). */
export function classColorsOf(header, count = null) {
  const list = header.classes;
  if (!Array.isArray(list)) return null;
  const colors = list.map((c) => /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(String(c)));
  if (colors.some((m) => !m) || colors.length < 2 || (count !== null && colors.length !== count)) {
    throw new FrameError(`bad class colours ${JSON.stringify(list)}`);
  }
  return colors.map((m) => [1, 2, 3].map((i) => parseInt(m[i], 16)));
}

function checkSections(header, sections) {
  const R = header.resolution;
  const C = header.channels;
  if (!Number.isInteger(R) || R < 1) throw new FrameError(`bad resolution ${R}`);
  if (C !== 1 && C !== 3) throw new FrameError(`bad channel count ${C}`);
  const bits = Math.ceil((R * R) / 8);
  const expected = { prediction: R * R * C, boundary: bits, decision: bits, regions: R * R * 3 };
  for (const [name, length] of Object.entries(expected)) {
    if (sections[name] && sections[name].length < length) {
      throw new FrameError(`section ${name} has ${sections[name].length} bytes, expected ${length}`);
    }
  }
  if (!sections.prediction) throw new FrameError("frame has no prediction section");
  classColorsOf(header); // a classifier's frame: its colours must be readable
}

/**
 * `url`: the socket's address, or a function giving it at each (re)connection.
 * handlers: onOpen(isReconnect), onClose(wasOpen, code), onMessage(obj), onFrame(frame: a frame or a surface),
 * onStateChange("connecting" | "open" | "reconnecting").
 */
export class Connection {
  constructor(url, handlers = {}) {
    this.url = typeof url === "function" ? url : () => url;
    this.handlers = handlers;
    this.ws = null;
    this.attempt = 0;
    this.everOpened = false;
    this.timer = null;
    this.closedByUs = false;
    this.state = "connecting";
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    this.closedByUs = false;
    clearTimeout(this.timer);
    this.timer = null;
    let ws;
    try {
      const url = this.url();
      ws = new WebSocket(`${url}${url.includes("?") ? "&" : "?"}acks=1`); // this page acknowledges frames
    } catch (err) {
      console.warn("websocket could not be created:", err);
      this._scheduleReconnect();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this._setState(this.everOpened ? "reconnecting" : "connecting");
    let opened = false;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      opened = true;
      const isReconnect = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this._setState("open");
      this._call("onOpen", isReconnect);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      if (typeof event.data === "string") {
        let msg;
        try {
          msg = JSON.parse(event.data);
        } catch (err) {
          console.warn("unreadable message from the server:", event.data.slice(0, 200));
          return;
        }
        this._call("onMessage", msg);
      } else {
        let frame;
        try {
          frame = parseFrame(event.data);
        } catch (err) {
          console.warn("unreadable frame:", err.message);
          this._received(ws);
          return;
        }
        if (!frame.surface) this._received(ws); // taken: the server may send the next (a surface is not counted)
        frame.receivedAt = event.timeStamp; // when it arrived (performance.now()'s clock)
        this._call("onFrame", frame);
      }
    });
    // "error" is always followed by "close"; reconnecting is handled there.
    ws.addEventListener("error", () => {});
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this._call("onClose", opened, event.code);
      if (!this.closedByUs) this._scheduleReconnect();
    });
  }

  _received(ws) {
    if (ws.readyState === WebSocket.OPEN) ws.send(RECEIVED);
  }

  /** Send a JSON message; false when not connected (the caller re-syncs on open). */
  send(message) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  close() {
    this.closedByUs = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
  }

  /** Try again right away (e.g. the browser came back online). */
  retryNow() {
    if (this.ws || this.closedByUs) return;
    this.connect();
  }

  _scheduleReconnect() {
    this._setState(this.everOpened ? "reconnecting" : "connecting");
    const delay = Math.min(5000, 300 * 2 ** Math.min(this.attempt, 5));
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this._call("onStateChange", state);
  }

  _call(name, ...args) {
    const fn = this.handlers[name];
    if (!fn) return;
    try {
      fn(...args);
    } catch (err) {
      console.error(`Connection ${name} handler failed:`, err);
    }
  }
}
