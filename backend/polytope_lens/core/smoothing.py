"""The smoothing baseline: Gaussian-kernel regression of the training points.

What a network learning a picture from samples must beat: predict every pixel
as the Gaussian-weighted mean of the training targets around it
(Nadaraya-Watson), f(p) = sum_i K(p - x_i) y_i / sum_i K(p - x_i), with
K(d) = exp(-|d|^2 / (2 sigma^2)) and sigma in pixels of the 1024x1024 target
(default 3). Training points sit on pixels, so both sums are images: the
targets and the counts splatted onto the pixel grid, each blurred by a
separable Gaussian (FFT along each axis, zero-padded, so nothing wraps
around).

Far from every training point the weights vanish and the ratio is rounding
noise: where the weight is below ``MIN_WEIGHT`` (no point within about 3.7
sigma), the value of the same regression at 4 sigma is used instead, then 16
sigma, and at last the mean of the training targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .images import PointSample, Target

DEFAULT_SIGMA_PX = 3.0
MIN_SIGMA_PX = 0.3
MAX_SIGMA_PX = 256.0
MIN_WEIGHT = 1e-3  # in units of one point's own weight at its pixel
FALLBACK_SCALES = (4.0, 16.0)


class NotARegression(Exception):
    """The baseline regresses brightness: a classifier's points are class indices, not values."""


@dataclass
class Baseline:
    sigma_px: float
    values: np.ndarray  # float32 (H, W, C): the regression at every pixel of the target
    train_loss: float  # MSE at the training points (not zero: neighbours pull)
    val_loss: float  # MSE at the validation points: the number to compare with the network's


def _blur_axis(image: np.ndarray, sigma: float, axis: int) -> np.ndarray:
    n = image.shape[axis]
    radius = int(np.ceil(4 * sigma))
    size = n + 2 * radius  # zero padding: light never wraps round to the other side
    offsets = np.arange(size)
    offsets = np.minimum(offsets, size - offsets)  # circular distance
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel[offsets > radius] = 0.0  # exactly zero beyond the support: no leakage past 4 sigma
    spectrum = np.fft.rfft(kernel)
    shape = [1] * image.ndim
    shape[axis] = spectrum.shape[0]
    blurred = np.fft.irfft(np.fft.rfft(image, n=size, axis=axis) * spectrum.reshape(shape), n=size, axis=axis)
    return np.take(blurred, np.arange(n), axis=axis)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W, ...) float64 blurred by exp(-d^2 / 2 sigma^2) (unnormalised: a single 1 stays 1 at its pixel)."""
    return _blur_axis(_blur_axis(image, sigma, 0), sigma, 1)


def kernel_regression(shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, values: np.ndarray,
                      sigma_px: float) -> np.ndarray:
    """float32 (H, W, C): the Nadaraya-Watson estimate at every pixel from points at (rows, cols)."""
    if not MIN_SIGMA_PX <= sigma_px <= MAX_SIGMA_PX:
        raise ValueError(f"sigma must be between {MIN_SIGMA_PX} and {MAX_SIGMA_PX} pixels, got {sigma_px}")
    H, W = shape
    values = np.asarray(values, dtype=np.float64).reshape(len(rows), -1)
    C = values.shape[1]
    splat = np.zeros((H, W, C + 1))
    np.add.at(splat, (rows, cols), np.concatenate([values, np.ones((len(rows), 1))], axis=1))
    result = np.broadcast_to(values.mean(axis=0), (H, W, C)).copy()  # last resort: the mean
    filled = np.zeros((H, W), dtype=bool)
    for scale in (1.0, *FALLBACK_SCALES):
        blurred = gaussian_blur(splat, sigma_px * scale)
        weight = blurred[:, :, C]
        ok = (weight >= MIN_WEIGHT) & ~filled
        result[ok] = blurred[ok, :C] / weight[ok, None]
        filled |= ok
        if filled.all():
            break
    # a weighted mean lies within the values; FFT rounding (~1e-13) could step outside
    return np.clip(result, values.min(axis=0), values.max(axis=0)).astype(np.float32)


def smoothing_baseline(target: Target, sample: PointSample, sigma_px: float = DEFAULT_SIGMA_PX) -> Baseline:
    """The baseline of a run's training points on its target, with its losses."""
    H, W = target.values.shape[:2]
    train_r, train_c = sample.train_pixels[:, 0], sample.train_pixels[:, 1]
    values = kernel_regression((H, W), train_r, train_c, target.values[train_r, train_c], sigma_px)
    val_r, val_c = sample.val_pixels[:, 0], sample.val_pixels[:, 1]

    def mse(r, c) -> float:
        return float(np.mean((values[r, c].astype(np.float64) - target.values[r, c]) ** 2))

    return Baseline(float(sigma_px), values, mse(train_r, train_c), mse(val_r, val_c))
