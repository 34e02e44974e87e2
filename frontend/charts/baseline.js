// The smoothing baseline (GET /api/sessions/{token}/smoothing and smoothing.png): a Gaussian-kernel
// regression of the run's training points, its validation MSE beside the network's, and its picture.

import { fetchSmoothing, smoothingPictureUrl } from "../shared/api.js";

export class Baseline {
  constructor({ sigma, button, result, image }) {
    this.els = { sigma, button, result, image };
    this.token = null;
    button.addEventListener("click", () => this.show());
  }

  setToken(token) {
    if (token === this.token) return;
    this.token = token;
    this.els.result.textContent = "";
    this.els.image.hidden = true;
  }

  async show() {
    const { sigma, result, image } = this.els;
    if (!this.token) {
      result.textContent = "No network yet.";
      return;
    }
    const s = Number(sigma.value);
    const token = this.token;
    result.textContent = "Smoothing the training points…";
    try {
      const body = await fetchSmoothing(token, s);
      const net = typeof body.network_val_loss === "number" ? body.network_val_loss : null;
      const verdict = net === null ? "" : net < body.val_loss
        ? ` — the network does ${(body.val_loss / net).toFixed(1)}× better`
        : " — the network does not beat it yet";
      result.textContent = `Validation MSE: smoothing (σ = ${body.sigma} px) ${body.val_loss.toPrecision(3)}, network ${net === null ? "—" : net.toPrecision(3)} at step ${body.step}${verdict}.`;
      result.dataset.valLoss = String(body.val_loss);
      image.src = smoothingPictureUrl(token, s, 256);
      image.hidden = false;
    } catch (err) {
      result.textContent = `Smoothing baseline: ${err.detail || err.message}`;
    }
  }
}
