"""Pictures of a run: the three panels side by side and a caption.

Panel 1: prediction with region boundaries drawn over it (or regions filled
with their pattern colours); panel 2: prediction alone; panel 3: the target
with training points (red) and validation points (blue).
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..core.images import PointSample, Target
from ..geometry.grid import GridPartition
from .boundaries import draw_boundaries
from .classmap import class_map_rgb, class_partition_rgb

BOUNDARY_COLOR = (255, 120, 0)  # orange: visible on black, white and gray predictions
REGION_EDGE_COLOR = (20, 20, 20)  # edges between filled regions
TRAIN_COLOR = (230, 30, 30)
VAL_COLOR = (30, 80, 230)
BACKGROUND = (228, 228, 232)  # light gray, so white predictions still show their panel's edge
GAP = 8
CAPTION_HEIGHT = 30  # at 512 px panels; scaled with the panel size


@dataclass
class FrameInfo:
    step: int
    train_loss: float
    val_loss: float
    regions: int
    architecture: str
    train_accuracy: float | None = None  # classify
    val_accuracy: float | None = None

    def caption(self) -> str:
        if self.val_accuracy is not None:
            return (
                f"step {self.step}   train CE {self.train_loss:.4f}   val CE {self.val_loss:.4f}   "
                f"train acc {self.train_accuracy:.3f}   val acc {self.val_accuracy:.3f}   "
                f"regions {self.regions}   {self.architecture}"
            )
        return (
            f"step {self.step}   train MSE {self.train_loss:.5f}   val MSE {self.val_loss:.5f}   "
            f"regions {self.regions}   {self.architecture}"
        )


def prediction_rgb(prediction: np.ndarray) -> np.ndarray:
    """float (R, R, C) network output -> uint8 (R, R, 3), clipped to the target's [0, 1]."""
    img = np.clip(np.rint(prediction * 255.0), 0, 255).astype(np.uint8)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return img


def partition_rgb(partition: GridPartition, fill_regions: bool = False, show_boundaries: bool = True) -> np.ndarray:
    """Panel 1: prediction (or region colours) with the boundary pixels painted over."""
    if fill_regions:
        img = partition.color_image()
        edge = REGION_EDGE_COLOR
    else:
        img = prediction_rgb(partition.prediction)
        edge = BOUNDARY_COLOR
    if show_boundaries:
        img = draw_boundaries(img, partition, edge)
    return img


def target_rgb(target: Target, sample: PointSample | None, size: int) -> np.ndarray:
    """Panel 3: the target scaled to ``size`` with its training (red) and validation (blue) points."""
    pil = target.to_pil().convert("RGB")
    if pil.size != (size, size):
        pil = pil.resize((size, size), Image.Resampling.BOX)
    img = np.asarray(pil).copy()
    if sample is not None:
        scale = size / target.values.shape[0]
        for pixels, color in ((sample.train_pixels, TRAIN_COLOR), (sample.val_pixels, VAL_COLOR)):
            rows = np.minimum((pixels[:, 0] * scale).astype(np.int64), size - 1)
            cols = np.minimum((pixels[:, 1] * scale).astype(np.int64), size - 1)
            # 2x2 dots at >= 512 so single points stay visible, 1 pixel on small panels.
            dot = 2 if size >= 512 else 1
            for dr in range(dot):
                for dc in range(dot):
                    img[np.minimum(rows + dr, size - 1), np.minimum(cols + dc, size - 1)] = color
    return img


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: bitmap font
        return ImageFont.load_default()


def caption_height_for(panel_size: int) -> int:
    """Caption strip height: readable on 1024 px frames and in movies, small on thumbnails."""
    return max(18, CAPTION_HEIGHT * panel_size // 512)


def compose(panels: list[np.ndarray], caption: str | None = None) -> Image.Image:
    """Panels side by side on the light-gray BACKGROUND, an optional caption line beneath."""
    size = panels[0].shape[0]
    caption_height = caption_height_for(size)
    width = len(panels) * size + (len(panels) + 1) * GAP
    height = size + 2 * GAP + (caption_height if caption else 0)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    for i, panel in enumerate(panels):
        canvas.paste(Image.fromarray(panel, "RGB"), (GAP + i * (size + GAP), GAP))
    if caption:
        draw = ImageDraw.Draw(canvas)
        draw.text((GAP, size + GAP + caption_height // 5), caption, fill=(30, 30, 30), font=_font(max(10, caption_height * 3 // 5)))
    return canvas


def render_frame(
    partition: GridPartition,
    target_panel: np.ndarray,
    info: FrameInfo | None = None,
    fill_regions: bool = False,
    show_boundaries: bool = True,
    class_colors: list[tuple[int, int, int]] | None = None,
) -> Image.Image:
    """The full three-panel frame; ``target_panel`` comes from target_rgb (computed once per run).
    With ``class_colors`` the prediction is a classifier's scores: drawn as the class map."""
    if class_colors is not None:
        panels = [
            class_partition_rgb(partition, class_colors, fill_regions=fill_regions, show_boundaries=show_boundaries),
            class_map_rgb(partition.prediction, class_colors),
            target_panel,
        ]
        return compose(panels, info.caption() if info else None)
    panels = [
        partition_rgb(partition, fill_regions=fill_regions, show_boundaries=show_boundaries),
        prediction_rgb(partition.prediction),
        target_panel,
    ]
    return compose(panels, info.caption() if info else None)


def png_bytes(img: Image.Image) -> bytes:
    """A lossless PNG of ``img`` (as RGB), encoded by FFmpeg's PNG encoder (PyAV) with the "up" filter
    on every row and zlib level 1: a 3104x1100 frame in ~24 ms, against ~61 ms for Pillow at its
    fastest level (which tries every filter on every row), at the same size."""
    rgb = np.asarray(img if img.mode == "RGB" else img.convert("RGB"))  # a frame is RGB already: no copy of it
    encoder = av.CodecContext.create("png", "w")
    encoder.width, encoder.height = img.size
    encoder.pix_fmt = "rgb24"
    encoder.options = {"pred": "up", "compression_level": "1"}
    packets = encoder.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")) + encoder.encode(None)  # and flush
    return b"".join(bytes(packet) for packet in packets)
