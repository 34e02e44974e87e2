"""Generate the sample target pictures for Polytope Lens.

Every picture is a 1024x1024 8-bit PNG (mode L for gray targets, RGB for the
colour one) written to the top-level folder ``sample_images/`` (package data in a wheel).  Pixel
coordinates map to the network's input square [-1, 1]^2 with x to the right and
y upwards.  Shapes with curved edges are drawn at 4x resolution and box-filtered
down, which gives clean antialiased edges.  The output is fully deterministic.

Usage:
    .venv/bin/python scripts/make_sample_images.py [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = 1024
SS = 4  # supersampling factor
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "sample_images"


def grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of an n x n image in [-1, 1]^2 (y points up)."""
    t = (np.arange(n, dtype=np.float32) + 0.5) / n * 2.0 - 1.0
    return t[None, :], -t[:, None]


def supersample(draw, mode: str = "L") -> Image.Image:
    """Render ``draw(x, y)`` on a (SS*SIZE)^2 grid and box-filter it to SIZE^2.

    ``draw`` returns either a PIL image or an array: for mode L a 2-D "ink"
    array in [0, 1] (1 = black), for mode RGB an (n, n, 3) array in [0, 1].
    """
    x, y = grid(SS * SIZE)
    out = draw(x, y)
    if not isinstance(out, Image.Image):
        out = np.broadcast_to(out, (SS * SIZE, SS * SIZE) + (() if mode == "L" else (3,)))
        vals = 1.0 - out if mode == "L" else out
        out = Image.fromarray(np.round(vals * 255).astype(np.uint8), mode)
    return out.resize((SIZE, SIZE), Image.BOX)


def ring() -> Image.Image:
    """Black annulus on white, outer radius 0.6, inner radius 0.35."""
    return supersample(lambda x, y: ((r := np.hypot(x, y)) <= 0.6) & (r >= 0.35))


def disk() -> Image.Image:
    """Filled black disk of radius 0.5 on white."""
    return supersample(lambda x, y: np.hypot(x, y) <= 0.5)


def checkerboard() -> Image.Image:
    """4x4 black/white checkerboard, black in the top-left cell."""
    x, y = grid(SIZE)
    ink = (np.floor((x + 1) * 2) + np.floor((1 - y) * 2)) % 2 == 0
    return Image.fromarray(np.where(ink, 0, 255).astype(np.uint8), "L")


def spiral() -> Image.Image:
    """Thick two-armed Archimedean spiral (r = b * theta for both arms)."""
    b = 0.22 / np.pi  # radial gap between neighbouring arms is b * pi = 0.22

    def draw(x, y):
        r, phi = np.hypot(x, y), np.arctan2(y, x)
        u = r / b - phi
        s = u - np.pi * np.round(u / np.pi)  # signed offset from nearest arm
        centre = r - b * s  # radius of the nearest arm point on this ray
        return (b * np.abs(s) <= 0.055) & (centre <= 0.85)

    return supersample(draw)


def face() -> Image.Image:
    """Smiley: head outline, two eyes and a curved mouth."""

    def draw(x, y):
        r = np.hypot(x, y)
        head = (r <= 0.85) & (r >= 0.75)
        eyes = (np.hypot(np.abs(x) - 0.3, y - 0.25) <= 0.12)
        rm = np.hypot(x, y - 0.05)  # mouth: lower part of a thick arc
        mouth = (rm >= 0.42) & (rm <= 0.52) & (y - 0.05 <= -0.6 * np.abs(x))
        return head | eyes | mouth

    return supersample(draw)


def text(lines: tuple[str, ...] = ("Re", "LU")) -> Image.Image:
    """The word "ReLU" in big bold black letters, stacked on two lines."""

    def draw(x, y):
        n = x.shape[1]
        img = Image.new("L", (n, n), 255)
        d = ImageDraw.Draw(img)

        def boxes(size):  # ink bounding boxes of the lines, drawn bold
            font = ImageFont.load_default(size=size)
            kw = dict(font=font, stroke_width=size // 45)
            return kw, [d.textbbox((0, 0), line, **kw) for line in lines]

        _, probe = boxes(1000)
        wide = max(b[2] - b[0] for b in probe)
        tall = max(b[3] - b[1] for b in probe)
        gap = 0.12  # vertical gap between lines, relative to the line height
        size = int(1000 * 0.86 * n / max(wide, tall * (len(lines) * (1 + gap) - gap)))
        kw, bbs = boxes(size)
        pitch = (1 + gap) * max(b[3] - b[1] for b in bbs)
        for i, (line, b) in enumerate(zip(lines, bbs)):
            cy = n / 2 + (i - (len(lines) - 1) / 2) * pitch  # line's ink centre
            d.text((n / 2 - (b[0] + b[2]) / 2, cy - (b[1] + b[3]) / 2), line,
                   fill=0, stroke_fill=0, **kw)
        return img

    return supersample(draw)


def gradient() -> Image.Image:
    """Smooth regression target: diagonal ramp plus a soft gaussian bump."""
    x, y = grid(SIZE)
    ramp = 0.03 + 0.65 * (x + y + 2) / 4  # 0.03 .. 0.68 along the diagonal
    bump = 0.45 * np.exp(-((x - 0.3) ** 2 + (y - 0.3) ** 2) / (2 * 0.3 ** 2))
    vals = np.clip(ramp + bump, 0, 1)
    return Image.fromarray(np.round(vals * 255).astype(np.uint8), "L")


def colour() -> Image.Image:
    """Three overlapping additive disks (red, green, blue) on black."""

    def draw(x, y):
        rgb = []
        for k in range(3):  # red at the top, green and blue below
            a = np.pi / 2 + 2 * np.pi * k / 3
            rgb.append(np.hypot(x - 0.3 * np.cos(a), y - 0.3 * np.sin(a)) <= 0.5)
        return np.stack(rgb, axis=-1).astype(np.float32)

    return supersample(draw, mode="RGB")


# Classification pictures (task "classify"): pure palette colours are the classes, white is
# unlabelled (core/classes.py). Their anti-aliased edges blend into white, never into another class.
RED, GREEN, BLUE, WHITE = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 1.0, 1.0)


def paint(masks_and_colours, shape) -> np.ndarray:
    """White canvas with each boolean mask painted in its colour (later masks on top)."""
    out = np.ones(shape + (3,), dtype=np.float32)
    for mask, colour in masks_and_colours:
        out[np.broadcast_to(mask, shape)] = colour
    return out


def classes_circle() -> Image.Image:
    """Two classes: a red inner disk (r <= 0.4) and a blue ring (0.55 <= r <= 0.9), white between."""

    def draw(x, y):
        r = np.hypot(x, y)
        return paint([(r <= 0.4, RED), ((r >= 0.55) & (r <= 0.9), BLUE)], r.shape)

    return supersample(draw, mode="RGB")


def classes_xor() -> Image.Image:
    """Two classes in quadrants: red where x*y > 0, blue where x*y < 0, a thin white cross between."""

    def draw(x, y):
        xx, yy = np.broadcast_arrays(x, y)
        gap = (np.abs(xx) < 0.03) | (np.abs(yy) < 0.03)
        return paint([((xx * yy > 0) & ~gap, RED), ((xx * yy < 0) & ~gap, BLUE)], xx.shape)

    return supersample(draw, mode="RGB")


def classes_spiral() -> Image.Image:
    """Two interleaved spiral arms, red and blue (r = b * theta, the arms half a turn apart)."""
    b = 0.3 / np.pi  # radial distance between neighbouring arms (one red, one blue): 0.3

    def draw(x, y):
        r, phi = np.hypot(x, y), np.arctan2(y, x)
        u = r / b - phi
        k = np.round(u / np.pi)  # nearest arm turn; its parity says which arm
        s = u - np.pi * k
        centre = r - b * s
        arm = (b * np.abs(s) <= 0.08) & (centre <= 0.9) & (centre >= 0.05)
        red = arm & (k % 2 == 0)
        return paint([(red, RED), (arm & ~red, BLUE)], r.shape)

    return supersample(draw, mode="RGB")


def classes_three() -> Image.Image:
    """Three classes in the original tool's pure red, green and blue: three disks around the centre."""

    def draw(x, y):
        masks = []
        for k, colour in enumerate((RED, GREEN, BLUE)):
            a = np.pi / 2 + 2 * np.pi * k / 3
            masks.append((np.hypot(x - 0.5 * np.cos(a), y - 0.5 * np.sin(a)) <= 0.38, colour))
        return paint(masks, np.broadcast_shapes(x.shape, y.shape))

    return supersample(draw, mode="RGB")


PICTURES = {
    "ring": ring,
    "disk": disk,
    "checkerboard": checkerboard,
    "spiral": spiral,
    "face": face,
    "text": text,
    "gradient": gradient,
    "colour": colour,
    "classes-circle": classes_circle,
    "classes-xor": classes_xor,
    "classes-spiral": classes_spiral,
    "classes-three": classes_three,
}


CLIP_FRAMES = 16


def moving_disk() -> list[Image.Image]:
    """A clip of 16 frames: a black disk travels along an arc from lower left to upper right,
    its radius growing from 0.2 to 0.4 (the moving-picture sample, issue 14)."""
    frames = []
    for k in range(CLIP_FRAMES):
        s = k / (CLIP_FRAMES - 1)
        angle = np.pi * (1.25 - 1.0 * s)  # from the lower left over the top to the upper right
        cx, cy = 0.45 * np.cos(angle), 0.45 * np.sin(angle) + 0.1 * s
        radius = 0.2 + 0.2 * s
        frames.append(supersample(lambda x, y: np.hypot(x - cx, y - cy) <= radius))
    return frames


CLIPS = {"moving-disk": moving_disk}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output directory (default: {DEFAULT_OUT})")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in PICTURES.items():
        path = args.out / f"{name}.png"
        img = make()
        assert img.size == (SIZE, SIZE), (name, img.size)
        img.save(path, optimize=True)
        print(f"{path}  {img.mode}  {path.stat().st_size / 1024:.1f} KB")
    for name, make in CLIPS.items():  # clips: animated PNG, 100 ms a frame
        path = args.out / f"{name}.png"
        frames = make()
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, optimize=True)
        print(f"{path}  {len(frames)} frames  {path.stat().st_size / 1024:.1f} KB")


if __name__ == "__main__":
    main()
