"""Where targets come from: the sample pictures and a bounded store of uploads.

Uploads are decoded and normalised once, then kept as 1024x1024 RGB PNGs
named by a random id in the app's own folder; client file names are never
used. The oldest uploads are evicted when the count or byte limit is hit.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..core.samples import SAMPLES_DIR, sample_ids, sample_path, sample_task
from ..core.clips import clip_png, clip_target, load_clip_or_picture, open_clip
from ..core.images import ImageError, Target, normalise, open_image, to_rgb

UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
log = logging.getLogger("polytope_lens.server")


class UnknownImage(KeyError):
    def __str__(self) -> str:  # KeyError quotes its argument; a person wants plain words
        return str(self.args[0])


@dataclass(frozen=True)
class StoreLimits:
    max_uploads: int = 200
    max_upload_store_bytes: int = 512 * 1024 * 1024
    cached_targets: int = 8


class ImageStore:
    def __init__(self, samples_dir: Path | None = None, uploads_dir: Path | None = None, limits: StoreLimits | None = None):
        self.samples_dir = Path(samples_dir or SAMPLES_DIR)
        self._own_tmp = uploads_dir is None
        self.uploads_dir = Path(uploads_dir) if uploads_dir else Path(tempfile.mkdtemp(prefix="polytope-lens-uploads-"))
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        # A temp folder of our own goes at close(), or when the store is dropped or the process exits
        # (an app whose lifespan never ran, a test client without `with`).
        self._cleanup = (
            weakref.finalize(self, shutil.rmtree, str(self.uploads_dir), ignore_errors=True) if self._own_tmp else None
        )
        self.limits = limits or StoreLimits()
        self._lock = threading.Lock()
        self._uploads: OrderedDict[str, int] = OrderedDict()  # id -> bytes, oldest first
        self._notes: dict[str, str] = {}  # id -> what decoding said of it (a video cut short); this run only
        self._targets: OrderedDict[tuple[str, bool], Target] = OrderedDict()
        self._index_existing()

    def _index_existing(self) -> None:
        """A persistent uploads folder (``--data-dir``) keeps its pictures across restarts, oldest
        evicted first. What the store wrote but cannot use is removed: ``.part`` files of writes
        that never finished (a killed server) and pictures whose file is unreadable. Stray files
        the store did not write are left alone and never served."""
        removed = 0
        for path in self.uploads_dir.glob(".*.part"):
            if UPLOAD_ID.match(path.name[1:-len(".part")]) and path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed += 1
        found = []
        for path in self.uploads_dir.glob("*.png"):
            if UPLOAD_ID.match(path.stem) and path.is_file() and not path.is_symlink():
                if not _readable_upload(path):
                    path.unlink(missing_ok=True)
                    removed += 1
                    continue
                stat = path.stat()
                found.append((stat.st_mtime, path.stem, stat.st_size))
        if removed:
            log.info("removed %d unfinished or unreadable file(s) from %s", removed, self.uploads_dir)
        with self._lock:
            for _, image_id, size in sorted(found):
                self._uploads[image_id] = size
            self._evict()

    # -- samples ------------------------------------------------------------
    def samples(self) -> list[dict]:
        items = []
        for sample_id in sample_ids(self.samples_dir):
            name = sample_id.replace("_", " ").replace("-", " ").capitalize()
            items.append({"id": sample_id, "name": name, "url": f"/api/images/{sample_id}",
                          "frames": self.describe(sample_id)["frames"], "task": sample_task(sample_id)})
        return items

    def _sample_path(self, image_id: str) -> Path | None:
        return sample_path(image_id, self.samples_dir)

    # -- uploads ------------------------------------------------------------
    def add_upload(self, data: bytes, should_stop=None) -> str:
        """Validate and normalise a picture or a clip; returns its new id. Raises images.ImageError
        (clips.DecodeStopped when ``should_stop()`` turned true while a clip was decoded).
        A clip is kept as an animated PNG of its (sampled, 1024x1024) frames; what decoding had to
        say about it (a video cut short) is kept for ``describe``."""
        clip = open_clip(data, should_stop)
        note = None
        if clip is not None:
            data = clip_png(clip_target(clip.frames, clip.duration_s, color=True))
            note = clip.note
        else:
            rgb = normalise(open_image(data), color=True).to_pil()
            buf = io.BytesIO()
            rgb.save(buf, format="PNG", compress_level=3)
            data = buf.getvalue()
        image_id = secrets.token_urlsafe(18)  # 144 random bits: unguessable, and the only name used
        if len(data) > self.limits.max_upload_store_bytes:
            raise ImageError("the picture does not fit in the upload store")
        final = self.uploads_dir / f"{image_id}.png"
        partial = self.uploads_dir / f".{image_id}.part"  # never matches UPLOAD_ID: never served
        with self._lock:
            partial.write_bytes(data)
            partial.replace(final)
            self._uploads[image_id] = len(data)
            if note:
                self._notes[image_id] = note
            self._evict()
        return image_id

    def _evict(self) -> None:
        while self._uploads and (
            len(self._uploads) > self.limits.max_uploads
            or sum(self._uploads.values()) > self.limits.max_upload_store_bytes
        ):
            old, _ = self._uploads.popitem(last=False)
            self._notes.pop(old, None)
            (self.uploads_dir / f"{old}.png").unlink(missing_ok=True)
            for key in [k for k in self._targets if k[0] == old]:
                del self._targets[key]

    def upload_count(self) -> int:
        return len(self._uploads)

    def upload_bytes(self) -> int:
        with self._lock:
            return sum(self._uploads.values())

    def _upload_path(self, image_id: str) -> Path | None:
        if not UPLOAD_ID.match(image_id) or image_id not in self._uploads:
            return None
        return self.uploads_dir / f"{image_id}.png"

    # -- lookup -------------------------------------------------------------
    def path(self, image_id: str) -> Path:
        path = self._sample_path(image_id) or self._upload_path(image_id)
        if path is None:
            raise UnknownImage(f"no picture with id '{image_id[:80]}' (pick a sample or upload a picture)")
        return path

    def target(self, image_id: str, color: bool = False) -> Target:
        """The normalised target, from a small LRU cache."""
        key = (image_id, color)
        with self._lock:
            if key in self._targets:
                self._targets.move_to_end(key)
                return self._targets[key]
        path = self.path(image_id)
        try:
            target = load_clip_or_picture(path, color=color)
        except ImageError:  # evicted between lookup and read, or a damaged file
            self._forget_damaged(image_id, path)
            raise UnknownImage(f"the picture '{image_id[:80]}' is no longer available; upload it again") from None
        with self._lock:
            self._targets[key] = target
            while len(self._targets) > self.limits.cached_targets:
                self._targets.popitem(last=False)
        return target

    def describe(self, image_id: str) -> dict:
        """``frames`` (1 for a still picture) and ``duration_s`` (0 for a picture) of a stored target,
        from the file's chunk headers (the pixels are not decoded), and ``note`` where decoding the
        upload had something to say."""
        note = {"note": self._notes[image_id]} if image_id in self._notes else {}
        path = self.path(image_id)
        try:
            with Image.open(path) as img:
                frames = int(getattr(img, "n_frames", 1) or 1)
                duration_ms = 0.0
                if frames > 1:
                    for k in range(frames):
                        img.seek(k)
                        duration_ms += float(img.info.get("duration") or 0)
        except Exception:  # noqa: BLE001 - an unreadable file is reported by png()/target()
            return {"frames": 1, "duration_s": 0.0, **note}
        return {"frames": frames, "duration_s": round(duration_ms / 1000.0, 3), **note}

    def png(self, image_id: str, size: int = 1024, frame: int = 0) -> bytes:
        """The normalised picture (or frame ``frame`` of a clip) as PNG (as colourful as it is),
        optionally scaled down. ValueError for a frame the clip does not have."""
        path = self.path(image_id)
        if frame:
            count = self.describe(image_id)["frames"]
            if not 0 <= frame < count:
                raise ValueError(f"frame must be 0..{count - 1} (this {'clip' if count > 1 else 'picture'} "
                                 f"has {count} frame{'s' if count > 1 else ''}), got {frame}")
        try:
            img = open_image(path)
            if frame:
                img.seek(frame)
                img.load()
            img = to_rgb(img)
        except ImageError:
            self._forget_damaged(image_id, path)
            raise UnknownImage(f"the picture '{image_id[:80]}' is no longer available; upload it again") from None
        if img.size != (1024, 1024):
            img = normalise(img, color=True).to_pil()
        if _is_gray(img):
            img = img.convert("L")
        if size != img.size[0]:
            img = img.resize((size, size), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=3)
        return buf.getvalue()

    def _forget_damaged(self, image_id: str, path: Path) -> None:
        """An upload whose file cannot be read any more (damaged on disk) is removed for good."""
        with self._lock:
            if image_id not in self._uploads or not path.exists():
                return
            del self._uploads[image_id]
            for key in [k for k in self._targets if k[0] == image_id]:
                del self._targets[key]
        path.unlink(missing_ok=True)
        log.warning("removed the unreadable upload %s", image_id)

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()


def _readable_upload(path: Path) -> bool:
    """A stored upload looks usable: a 1024x1024 PNG header (cheap: the pixels are not read)."""
    try:
        with Image.open(path) as img:
            return img.format == "PNG" and img.size == (1024, 1024)
    except Exception:  # noqa: BLE001 - any failure to read it means it is not usable
        return False


def _is_gray(img: Image.Image) -> bool:
    r, g, b = img.split()
    return r.tobytes() == g.tobytes() == b.tobytes()
