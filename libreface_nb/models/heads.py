"""LibreFace's task head, shared by the teacher and the student.

Layout (docs/libreface_facts.md §4), as an ``nn.Sequential`` so that the state-dict keys are
``0.*`` (first Linear), ``2.*`` (BatchNorm1d) and ``4.*`` (second Linear), exactly the indices of
LibreFace's released ``classifier.{0,2,4}.*`` keys:

| index | layer                          | teacher (D=128) | student (D=512) |
|-------|--------------------------------|-----------------|-----------------|
| 0     | Linear(D → hidden)             | 128 → 32        | 512 → 128       |
| 1     | ReLU                           |                 |                 |
| 2     | BatchNorm1d(hidden)            | 32              | 128             |
| 3     | Dropout(p)                     | 0.1             | 0.1             |
| 4     | Linear(hidden → K)             | 32 → K          | 128 → K         |

The head returns *raw* outputs ``f32[N, K]``: LibreFace ends its heads with a Sigmoid, here the
activation lives outside the head (:func:`libreface_nb.models.tasks.activate`), so that detection
and expression heads give logits to BCE-with-logits / cross-entropy without double squashing.
"""

from __future__ import annotations

from torch import nn


class LibreFaceHead(nn.Sequential):
    """Linear → ReLU → BatchNorm1d → Dropout → Linear; raw outputs ``f32[N, n_outputs]``."""

    def __init__(self, in_dim: int, hidden: int, n_outputs: int, dropout: float = 0.1) -> None:
        super().__init__(
            nn.Linear(in_dim, hidden),
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(hidden),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_outputs),
        )
        self.in_dim, self.hidden, self.n_outputs = in_dim, hidden, n_outputs
