"""Calibration data readers: frames in, the runtime's exact preprocessing applied by the caller.

Every reader yields **BGR uint8 camera-like frames** (what ``b2v-edge run`` receives), so the
calibration inputs pass through the one :func:`b2v_edge.runtime.preprocess.preprocess` used at run
time. A reader works in two passes: :meth:`Reader.scan` scores a pool of candidate frames for blur
(keeping at most a small handle per candidate), :meth:`Reader.read` delivers the frames chosen by
stratified sampling. Sources with a test split (synthetic, GoPro, panorama) also give held-out
evaluation items with ground-truth sharp frames.

Blur metrics: the synthetic and panorama sources know their motion (``blur_px``: mean displacement
in pixels over the exposure); other sources use ``-log10(var(Laplacian))`` of the grey frame scaled
to a 256-pixel short side (``laplacian``: higher = blurrier).
"""

from __future__ import annotations

import abc
import collections
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Counter, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from b2v_edge.common.images import IMAGE_EXTS, list_images
from b2v_edge.runtime.sources import SourceError, open_source

from .options import RAW_KINDS, CalibError, CalibOptions, parse_data_spec
from .progress import Advance

__all__ = ["Candidate", "EvalItem", "Reader", "blur_score", "make_reader", "rgb_to_bgr_uint8"]

log = logging.getLogger("b2v_edge.calib")


@dataclass
class Candidate:
    """One candidate calibration frame.

    Attributes:
        id: stable identity (``synthetic:train:0:17``, a file path, ``video.mp4#120``, ...).
        blur: blur strength in the reader's ``metric`` (higher = blurrier).
        size: ``(h, w)`` of the source frame.
        handle: reader-private (index, path, frame number, or the frame itself).
    """

    id: str
    blur: float
    size: Tuple[int, int]
    handle: Any = None


@dataclass
class EvalItem:
    """A held-out input: the blurred BGR frame and, when the source has it, N sharp BGR frames."""

    id: str
    frame: np.ndarray
    gt: Optional[List[np.ndarray]] = None


def rgb_to_bgr_uint8(rgb: np.ndarray) -> np.ndarray:
    """``float [H, W, 3]`` RGB in [0, 1] → ``uint8 [H, W, 3]`` BGR, like a camera frame."""
    u8 = (np.clip(np.asarray(rgb, np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(u8[:, :, ::-1])


def blur_score(bgr: np.ndarray) -> float:
    """``-log10(var(Laplacian))`` of the grey frame at a 256-pixel short side (higher = blurrier)."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
    scale = 256.0 / min(gray.shape[:2])
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    var = float(cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F).var())
    return -float(np.log10(var + 1e-6))


def _spread(total: int, count: int) -> List[int]:
    """``count`` indices spread evenly over ``range(total)`` (all of them if fewer)."""
    if total <= count:
        return list(range(total))
    return sorted({int(round(v)) for v in np.linspace(0, total - 1, count)})


class Reader(abc.ABC):
    """Base of all readers. ``size`` is the model input ``(H, W)``, ``frames`` its N."""

    metric = "laplacian"
    has_gt = False

    def __init__(self, target: str, options: CalibOptions, size: Tuple[int, int], frames: int) -> None:
        self.target, self.options, self.size, self.frames = target, options, size, frames
        self.sizes: Counter[Tuple[int, int]] = collections.Counter()

    @abc.abstractmethod
    def scan(self, count: int, advance: Advance) -> List[Candidate]:
        """Score up to ``count`` candidate frames spread over the source."""

    @abc.abstractmethod
    def read(self, candidates: Sequence[Candidate]) -> Iterator[Tuple[Candidate, np.ndarray]]:
        """Yield ``(candidate, bgr_frame)`` for the chosen candidates, in the given order."""

    def eval_items(self, count: int, leftovers: Sequence[Candidate]) -> List[EvalItem]:
        """Held-out items: by default unchosen candidates, without ground truth."""
        return [EvalItem(c.id, f) for c, f in self.read(list(leftovers)[:count])]

    def _note(self, frame: np.ndarray) -> Tuple[int, int]:
        size = (int(frame.shape[0]), int(frame.shape[1]))
        self.sizes[size] += 1
        return size


class _DatasetReader(Reader):
    """A training-core source with train/test splits (synthetic, GoPro, panorama)."""

    has_gt = True

    def __init__(
        self, target: str, options: CalibOptions, size: Tuple[int, int], frames: int, factory: Callable[[str, int], Any]
    ) -> None:
        super().__init__(target, options, size, frames)
        self.factory = factory
        self._train: Any = None

    def _sample(self, source: Any, index: int) -> Tuple[np.ndarray, Any]:
        try:
            sample = source[index]
        except (OSError, ValueError) as exc:
            raise CalibError(f"{self.options.data}: cannot read sample {index} ({exc})") from exc
        return rgb_to_bgr_uint8(sample.blurred), sample

    def scan(self, count: int, advance: Advance) -> List[Candidate]:
        self._train = self.factory("train", count)
        out = []
        for i in _spread(len(self._train), count):
            bgr, sample = self._sample(self._train, i)
            px = sample.meta.get("blur_strength")
            blur = float(px) if px is not None and self.metric == "blur_px" else blur_score(bgr)
            keep = bgr if self.metric == "blur_px" else None  # rendered sources: keep the small frame
            out.append(Candidate(f"{self._train.name}:{self.options.seed}:{i}", blur, self._note(bgr), (i, keep)))
            advance(1)
        return out

    def read(self, candidates: Sequence[Candidate]) -> Iterator[Tuple[Candidate, np.ndarray]]:
        for c in candidates:
            index, frame = c.handle
            yield c, frame if frame is not None else self._sample(self._train, index)[0]

    def eval_items(self, count: int, leftovers: Sequence[Candidate]) -> List[EvalItem]:
        test = self.factory("test", count)
        items = []
        for i in _spread(len(test), count):
            bgr, sample = self._sample(test, i)
            items.append(
                EvalItem(f"{test.name}:{self.options.seed}:{i}", bgr, [rgb_to_bgr_uint8(f) for f in sample.frames])
            )
        return items


class _ImageFolderReader(Reader):
    def __init__(self, target: str, options: CalibOptions, size: Tuple[int, int], frames: int) -> None:
        super().__init__(target, options, size, frames)
        folder = Path(target).expanduser()
        if not folder.is_dir():
            raise CalibError(f"images:{target}: no such folder")
        self.paths = list_images(folder)
        if not self.paths:
            files = [p for p in folder.iterdir() if p.is_file()]
            other = f" (found only {', '.join(sorted({p.suffix or p.name for p in files})[:5])})" if files else ""
            raise CalibError(f"images:{target}: no images ({' '.join(IMAGE_EXTS)}) in the folder{other}")

    def _imread(self, path: Path) -> np.ndarray:
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise CalibError(f"cannot read image {path} (corrupt or unsupported format)")
        return frame

    def scan(self, count: int, advance: Advance) -> List[Candidate]:
        out = []
        for i in _spread(len(self.paths), count):
            try:
                frame = self._imread(self.paths[i])
            except CalibError as exc:  # one bad file does not void the folder
                log.warning("%s: skipped", exc)
                advance(1)
                continue
            out.append(Candidate(str(self.paths[i]), blur_score(frame), self._note(frame), self.paths[i]))
            advance(1)
        if not out:
            raise CalibError(f"images:{self.target}: none of the {len(self.paths)} image(s) could be read")
        return out

    def read(self, candidates: Sequence[Candidate]) -> Iterator[Tuple[Candidate, np.ndarray]]:
        for c in candidates:
            yield c, self._imread(c.handle)


class _VideoReader(Reader):
    def __init__(self, target: str, options: CalibOptions, size: Tuple[int, int], frames: int) -> None:
        super().__init__(target, options, size, frames)
        path = Path(target).expanduser()
        if not path.is_file():
            raise CalibError(f"video:{target}: no such file")
        self.path = path

    def _open(self) -> Any:
        try:
            return open_source(str(self.path))
        except SourceError as exc:
            raise CalibError(f"video:{self.path}: {exc}") from exc

    def scan(self, count: int, advance: Advance) -> List[Candidate]:
        out: List[Candidate] = []
        with self._open() as source:
            stride = max(1, (source.frame_count or count) // count)
            try:
                for index, (frame, _) in enumerate(source):
                    if index % stride == 0:
                        out.append(Candidate(f"{self.path}#{index}", blur_score(frame), self._note(frame), index))
                        advance(1)
                    if len(out) >= count:
                        break
            except SourceError as exc:
                raise CalibError(f"video:{self.path}: {exc}") from exc
        return out

    def read(self, candidates: Sequence[Candidate]) -> Iterator[Tuple[Candidate, np.ndarray]]:
        wanted = collections.defaultdict(list)
        for c in candidates:
            wanted[c.handle].append(c)
        found = {}
        with self._open() as source:
            for index, (frame, _) in enumerate(source):
                if index in wanted:
                    found[index] = frame
                if len(found) == len(wanted):
                    break
        for c in candidates:
            if c.handle not in found:
                raise CalibError(f"video:{self.path}: frame {c.handle} could not be decoded on the second pass")
            yield c, found[c.handle]


class _CameraReader(Reader):
    def scan(self, count: int, advance: Advance) -> List[Candidate]:
        uri = self.target
        try:
            source = open_source(uri, reconnect_attempts=1, reconnect_delay=0.1)
        except SourceError as exc:
            raise CalibError(f"camera:{uri}: {exc}") from exc
        keep_every = max(1, self.options.camera_frames // count)
        out: List[Candidate] = []
        with source:
            try:
                for index, (frame, _) in enumerate(source):
                    if index >= self.options.camera_frames:
                        break
                    if index % keep_every == 0:
                        frame = frame.copy()
                        out.append(Candidate(f"camera:{uri}#{index}", blur_score(frame), self._note(frame), frame))
                    advance(1)
            except SourceError as exc:
                if not out:
                    raise CalibError(f"camera:{uri}: {exc}") from exc
        if not out:
            raise CalibError(f"camera:{uri} delivered no frames (is it in use by another program?)")
        return out

    def read(self, candidates: Sequence[Candidate]) -> Iterator[Tuple[Candidate, np.ndarray]]:
        for c in candidates:
            yield c, c.handle


def _dataset_factory(
    kind: str, target: str, options: CalibOptions, size: Tuple[int, int], frames: int
) -> Callable[[str, int], Any]:
    """``factory(split, length)`` for the training-core sources (numpy/OpenCV only, no torch)."""

    def make(split: str, length: int) -> Any:
        try:
            from b2v_edge.data.factory import SourceRequest, make_source

            request = SourceRequest(frames=frames, split=split, size=size, seed=options.seed, length=length)
            return make_source(options.data, request, command="calibrate")
        except ImportError as exc:
            raise CalibError(f"{options.data} needs {exc.name} (pip install 'b2v-edge[export]')") from exc
        except (OSError, ValueError) as exc:
            raise CalibError(f"{options.data}: {exc}") from exc

    return make


def make_reader(options: CalibOptions, size: Tuple[int, int], frames: int) -> Reader:
    """The reader for ``options.data`` at model input ``size`` ``(H, W)`` with N = ``frames``.

    Raises:
        CalibError: unknown spec, missing/empty folder or file (cameras fail on :meth:`Reader.scan`).
    """
    kind, target = parse_data_spec(options.data)
    if kind not in RAW_KINDS:
        reader = _DatasetReader(target, options, size, frames, _dataset_factory(kind, target, options, size, frames))
        reader.metric = "laplacian" if kind == "gopro" else "blur_px"
        return reader
    classes = {"images": _ImageFolderReader, "video": _VideoReader, "camera": _CameraReader}
    return classes[kind](target, options, size, frames)
