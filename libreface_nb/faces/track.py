"""Per-stream face track ids by greedy IoU matching of boxes between frames.

FaceMesh in tracking mode follows each face from its previous landmarks, so a face's box moves
little between consecutive frames; greedy matching on box IoU is enough to keep ids stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class _HasBox(Protocol):
    box: tuple[float, float, float, float]
    score: float
    track_id: int


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes."""
    inter = _intersection(a, b)
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def box_overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over the smaller box's area (1.0 when one box contains the other)."""
    small = min(_area(a), _area(b))
    return _intersection(a, b) / small if small > 0 else 0.0


def _area(b: Sequence[float]) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def _intersection(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


@dataclass
class _Track:
    box: tuple[float, float, float, float]
    score: float
    last_seen: int


class IoUTracker:
    """Assigns stable ids to faces across the frames of one stream.

    Args:
        min_iou: the least IoU with a track's last box for a face to continue that track.
        max_age: a track not seen for more than this many frames is forgotten (its id is never
            reused).
    """

    def __init__(self, min_iou: float = 0.3, max_age: int = 30) -> None:
        self.min_iou = min_iou
        self.max_age = max_age
        self.frame = -1
        self.next_id = 0
        self.tracks: dict[int, _Track] = {}

    def assign(self, faces: Sequence[_HasBox], fresh: Sequence[bool] | None = None) -> None:
        """Set ``track_id`` on each face of the next frame (in place).

        Args:
            faces: the faces of one frame.
            fresh: per face, whether its ``score`` came from a detector on this frame; faces
                with a stale score take their track's last score.
        """
        self.frame += 1
        fresh = [True] * len(faces) if fresh is None else list(fresh)
        self.tracks = {
            k: t for k, t in self.tracks.items() if self.frame - t.last_seen <= self.max_age
        }
        pairs = sorted(
            (
                (box_iou(f.box, t.box), i, k)
                for i, f in enumerate(faces)
                for k, t in self.tracks.items()
            ),
            reverse=True,
        )
        taken_faces: set[int] = set()
        taken_tracks: set[int] = set()
        for iou, i, k in pairs:
            if iou < self.min_iou:
                break
            if i in taken_faces or k in taken_tracks:
                continue
            taken_faces.add(i)
            taken_tracks.add(k)
            faces[i].track_id = k
        for i, face in enumerate(faces):
            if i not in taken_faces:
                face.track_id = self.next_id
                self.next_id += 1
            track = self.tracks.get(face.track_id)
            if track is not None and not fresh[i]:
                face.score = track.score
            self.tracks[face.track_id] = _Track(tuple(face.box), face.score, self.frame)
