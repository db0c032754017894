"""The capture side of a run: a thread that reads a source into a bounded hand-off slot.

Two policies, chosen from the source:

* **latest frame** (live sources — camera, CSI, stream, synthetic — or a file with ``realtime``):
  a slot of capacity 1; a frame not picked up before the next one arrives is dropped and counted.
  The model always works on the newest frame and nothing queues, so capture→output latency stays
  about one inference (plus at most one frame interval of the source).
* **every frame** (files, folders, images): a 2-frame slot that blocks the reader (back-pressure);
  nothing is dropped.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Deque, Iterable, Optional

import numpy as np

from .stats import StageTimer

__all__ = ["CaptureThread", "FrameSlot", "Item", "policy_text"]

_TIMEOUT = object()


def policy_text(latest: bool, paced: bool) -> str:
    """The frame policy of a run in words, for its summary."""
    if paced:
        return "latest frame (--realtime: file paced at its fps, stale frames dropped, no queue)"
    if latest:
        return "latest frame (live source: stale frames dropped, no queue)"
    return "every frame (file/folder source: nothing dropped)"


class FrameSlot:
    """Bounded hand-off between the capture thread and the main loop.

    Args:
        capacity: frames held at most.
        drop_oldest: when full, ``put`` discards the oldest frame (counted in ``dropped``) instead
            of waiting — the latest-frame policy of live sources.
    """

    TIMEOUT = _TIMEOUT

    def __init__(self, capacity: int = 1, drop_oldest: bool = True) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity, self.drop_oldest = capacity, drop_oldest
        self._items: Deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.high_water = 0

    def put(self, item: Any) -> bool:
        """Add ``item``; False if the slot was closed (the item is discarded)."""
        with self._cond:
            while not self.drop_oldest and len(self._items) >= self.capacity and not self._closed:
                self._cond.wait(0.1)
            if self._closed:
                return False
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.high_water = max(self.high_water, len(self._items))
            self._cond.notify_all()
            return True

    def get(self, timeout: float) -> Any:
        """Oldest item; None when closed and empty; :data:`FrameSlot.TIMEOUT` after ``timeout`` s."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            return None if self._closed else _TIMEOUT

    def close(self) -> None:
        """No more frames: waiting and later :meth:`get` calls return None, :meth:`put` returns False."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass
class Item:
    """A captured frame: pixels, source timestamp, and the ``perf_counter`` time it was read."""

    frame: np.ndarray
    ts: float
    t_capture: float = field(default_factory=time.perf_counter)


class CaptureThread:
    """Reads ``source`` into a :class:`FrameSlot` on a daemon thread.

    Args:
        source: iterable of ``(frame, t)``.
        latest: latest-frame policy (capacity 1, drop oldest) instead of every frame (capacity 2, block).
        pace: sleep to the source timestamps (``realtime`` on a file).
        timer: records the ``capture`` stage.
        stop: set to stop reading.
    """

    def __init__(
        self, source: Iterable[Any], latest: bool, pace: bool, timer: StageTimer, stop: threading.Event
    ) -> None:
        self.source, self.pace, self.timer, self._stop = source, pace, timer, stop
        self.slot = FrameSlot(1, drop_oldest=True) if latest else FrameSlot(2, drop_oldest=False)
        self.captured = 0
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="b2v-capture", daemon=True)

    def start(self) -> "CaptureThread":
        """Start reading the source on a daemon thread; returns self."""
        self._thread.start()
        return self

    def join(self, timeout: float) -> bool:
        """Close the slot and wait for the thread; True when it ended."""
        self.slot.close()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        it = iter(self.source)
        t_wall0: Optional[float] = None
        ts0 = 0.0
        try:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                item = next(it, None)
                if item is None:
                    break
                self.timer.add("capture", time.perf_counter() - t0)
                frame, ts = item
                if self.pace:
                    if t_wall0 is None:
                        t_wall0, ts0 = time.perf_counter(), float(ts)
                    delay = t_wall0 + (float(ts) - ts0) - time.perf_counter()
                    if delay > 0 and self._stop.wait(delay):
                        break
                self.captured += 1
                if not self.slot.put(Item(frame, float(ts))):
                    break
        except BaseException as exc:  # handed to the main loop, raised there
            self.error = exc
        finally:
            self.slot.close()
