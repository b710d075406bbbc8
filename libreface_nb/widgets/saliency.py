"""Where the model looks for one AU: Grad-CAM on the torch student, occlusion for any backend.

Both return a float32 map ``[256, 256]`` on the *aligned* face (what the image view shows),
finite, ≥ 0, scaled so its maximum is 1 (all zeros when the output does not depend on the
face at all). The model sees only the centre crop of the aligned face (transform ``au``:
resize to round(S·256/224), centre crop S), so the map is zero outside that crop.

- Grad-CAM (Selvaraju et al., ICCV 2017): on the last convolutional feature map ``A [C, h, w]``
  of the CNN encoder (timm's ``forward_features``), weights ``α_c`` = spatial mean of
  ∂y/∂A_c, map = ReLU(Σ_c α_c A_c), upsampled bilinearly. ``y`` is the *activated* output
  (intensity 0–5 or probability), so the map explains what the user reads.
- Occlusion (Zeiler & Fergus, ECCV 2014): a grey square (the ImageNet mean colour) slides over
  the aligned face; the map at a pixel is the mean ``|y(occluded) − y(face)|`` over the squares
  covering it. It needs only forward passes: ONNX files and the ViT teacher get it.

:func:`occlusion_check` tests a map: occluding the window where the map is highest should move
the AU's output more than occluding the window where it is lowest (both windows inside the
crop). It can fail, for an untrained model or a poor map; that is its point.
"""

from __future__ import annotations

import numpy as np

from libreface_nb.config import ALIGNED_SIZE, IMAGENET_MEAN
from libreface_nb.errors import ConfigError

METHODS = ("gradcam", "occlusion")
#: Grey used to occlude: the ImageNet mean colour (a zero input after normalization).
OCCLUDER = tuple(round(255 * m) for m in IMAGENET_MEAN)


def crop_box(info: object, aligned_size: int = ALIGNED_SIZE) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of the aligned face that the model's input covers."""
    s = int(info.input_size)
    if info.transform != "au":
        return 0, aligned_size, 0, aligned_size
    side = round(s * aligned_size / 224)
    top = int(round((side - s) / 2.0))
    a, b = round(top * aligned_size / side), round((top + s) * aligned_size / side)
    return a, b, a, b


def _normalise(m: np.ndarray) -> np.ndarray:
    m = np.nan_to_num(np.maximum(m, 0.0).astype(np.float32))
    top = float(m.max())
    return m / top if top > 0 else m


def _paste(small: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    import cv2

    y0, y1, x0, x1 = box
    out = np.zeros((size, size), np.float32)
    out[y0:y1, x0:x1] = cv2.resize(small.astype(np.float32), (x1 - x0, y1 - y0), cv2.INTER_LINEAR)
    return out


def gradcam(model: object, aligned: np.ndarray, task: str, index: int) -> np.ndarray:
    """Grad-CAM map of output ``index`` of ``task``'s head (see the module docstring).

    Args:
        model: a CNN FaceModel (``encoder.forward_features``/``forward_head``, eval mode).
        aligned: uint8 ``[256, 256, 3]`` aligned face.
        task: ``intensity``, ``detection`` or ``expression``.
        index: the output (AU or class) in head order.
    """
    import torch

    from libreface_nb.modelio.graph import model_info
    from libreface_nb.modelio.inputs import prepare_faces
    from libreface_nb.models.tasks import activate

    if model.config.is_vit:
        raise ConfigError("Grad-CAM needs a CNN student; use method='occlusion' for the ViT")
    info = model_info(model)
    x = torch.from_numpy(prepare_faces(aligned[None], info))
    model.eval()
    with torch.enable_grad():
        fmap = model.encoder.forward_features(x)  # [1, C, h, w]
        fmap.retain_grad()
        feat = model.neck(model.encoder.forward_head(fmap))
        y = activate(task, model.heads[task](feat))[0, index]
        y.backward()
    weights = fmap.grad[0].mean(dim=(1, 2))  # [C]
    cam = torch.relu((weights[:, None, None] * fmap[0]).sum(0)).detach().numpy()
    return _normalise(_paste(cam, crop_box(info), aligned.shape[0]))


def occlusion_batch(aligned: np.ndarray, patch: int, stride: int) -> tuple[np.ndarray, list]:
    """Copies of ``aligned`` with one grey square each, and the squares ``(y, x)`` (top-left)."""
    size = aligned.shape[0]
    starts = list(range(0, size - patch + 1, stride))
    boxes = [(y, x) for y in starts for x in starts]
    batch = np.repeat(aligned[None], len(boxes), axis=0)
    for i, (y, x) in enumerate(boxes):
        batch[i, y : y + patch, x : x + patch] = OCCLUDER
    return batch, boxes


def _run(backend: object, faces: np.ndarray, output: str, index: int, batch: int = 32):
    from libreface_nb.infer.backends import prepare_for

    vals = []
    for i in range(0, len(faces), batch):
        out = backend.run(prepare_for(backend, faces[i : i + batch]))
        vals.append(out[output][:, index])
    return np.concatenate(vals)


def occlusion(
    backend: object, aligned: np.ndarray, output: str, index: int, *, patch: int = 48,
    stride: int = 24,
) -> np.ndarray:  # fmt: skip
    """Occlusion map of ``output[:, index]`` for any backend (``info`` + ``run``)."""
    if output not in backend.info.outputs:
        raise ConfigError(f"output {output!r} not in the model's {backend.info.outputs}")
    base = _run(backend, aligned[None], output, index)[0]
    batch, boxes = occlusion_batch(aligned, patch, stride)
    delta = np.abs(_run(backend, batch, output, index) - base)
    size = aligned.shape[0]
    total, count = np.zeros((size, size)), np.zeros((size, size))
    for d, (y, x) in zip(delta, boxes, strict=True):
        total[y : y + patch, x : x + patch] += d
        count[y : y + patch, x : x + patch] += 1
    m = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    y0, y1, x0, x1 = crop_box(backend.info, size)
    inside = np.zeros_like(m)
    inside[y0:y1, x0:x1] = m[y0:y1, x0:x1]
    return _normalise(inside)


def extreme_windows(
    saliency: np.ndarray, box: tuple[int, int, int, int], patch: int
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Top-left ``(y, x)`` of the ``patch`` window inside ``box`` with the highest and the lowest
    mean saliency."""
    import cv2

    y0, y1, x0, x1 = box
    if y1 - y0 < patch or x1 - x0 < patch:
        raise ConfigError(f"patch {patch} does not fit the model's crop {box}")
    inner = saliency[y0:y1, x0:x1].astype(np.float64)
    mean = cv2.boxFilter(inner, -1, (patch, patch), normalize=True, anchor=(0, 0))
    valid = mean[: y1 - y0 - patch + 1, : x1 - x0 - patch + 1]
    hi = np.unravel_index(np.argmax(valid), valid.shape)
    lo = np.unravel_index(np.argmin(valid), valid.shape)
    return (int(hi[0] + y0), int(hi[1] + x0)), (int(lo[0] + y0), int(lo[1] + x0))


def occlusion_check(
    backend: object, aligned: np.ndarray, saliency: np.ndarray, output: str, index: int,
    patch: int = 64,
) -> dict[str, float]:  # fmt: skip
    """``|Δ output|`` when occluding the highest- and the lowest-saliency window.

    Returns:
        ``{"delta_high", "delta_low", "passed"}`` (passed = 1.0 when delta_high > delta_low).
    """
    hi, lo = extreme_windows(saliency, crop_box(backend.info, aligned.shape[0]), patch)
    faces = np.repeat(aligned[None], 3, axis=0)
    for i, (y, x) in ((1, hi), (2, lo)):
        faces[i, y : y + patch, x : x + patch] = OCCLUDER
    v = _run(backend, faces, output, index)
    high, low = abs(float(v[1] - v[0])), abs(float(v[2] - v[0]))
    return {"delta_high": high, "delta_low": low, "passed": float(high > low)}


def check_all(model: object, aligned: np.ndarray, method: str, patch: int = 64) -> list[dict]:
    """:func:`occlusion_check` of every AU output of ``model`` (an ExplorerModel) on one face.

    Returns:
        One dict per (output, AU): ``output``, ``label``, ``method``, ``delta_high``,
        ``delta_low``, ``passed``.
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}, got {method!r}")
    info, rows = model.info, []
    for out in info.outputs:
        task = info.task_of(out)
        if task == "expression":
            continue
        for k, label in enumerate(info.labels[out]):
            if method == "gradcam":
                sal = gradcam(model.torch_model, aligned, task, k)
            else:
                sal = occlusion(model.backend, aligned, out, k)
            check = occlusion_check(model.backend, aligned, sal, out, k, patch)
            rows.append({"output": out, "label": label, "method": method, **check})
    return rows
