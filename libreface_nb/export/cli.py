"""``libreface-nb export`` and ``libreface-nb import-libreface``: model files from the command line.

    libreface-nb export CHECKPOINT --out DIR [--name student] [--calibrate STORE_DIR]
    libreface-nb import-libreface CHECKPOINT --out FILE [--task intensity|detection]

``export`` writes ``<name>_fp32.onnx`` (metadata: :mod:`libreface_nb.modelio.metadata`), checks
it against torch, and with ``--calibrate`` an aligned-face store also ``<name>_int8.onnx``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from libreface_nb.errors import ConfigError, LibreFaceError


def _export_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="libreface-nb export",
        description="Export a models.save_model file to <name>_fp32.onnx (and _int8.onnx).",
    )
    p.add_argument("checkpoint", help="a model.pt written by libreface_nb.models.save_model")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", default="student", help="file stem (default: student)")
    p.add_argument("--calibrate", help="an aligned-face store: also write an int8 model")
    p.add_argument("--calibration-faces", type=int, default=64)
    return p


def _run_folder(path: Path) -> Path | None:
    """The run folder (the nearest parent with a ``run.json``) holding ``path``, or None."""
    for parent in path.resolve().parents:
        if (parent / "run.json").is_file():
            return parent
    return None


def export_main(argv: list[str]) -> int:
    """``libreface-nb export``; returns the exit code."""
    from libreface_nb.export.onnx import check_parity, export_onnx, quantize_int8, read_metadata
    from libreface_nb.models.factory import load_model

    args = _export_parser().parse_args(argv)
    try:
        model = load_model(Path(args.checkpoint))
        run_dir = _run_folder(Path(args.checkpoint)) or ""  # → metadata training_data
        imported = bool(getattr(model, "extra", {}).get("imported_from"))  # import-libreface .pt
        fp32 = export_onnx(
            model, Path(args.out) / f"{args.name}_fp32.onnx", source=args.checkpoint,
            run_dir=run_dir, training_data="" if imported else None,
        )  # fmt: skip
        info = read_metadata(fp32)
        if args.calibrate:
            from libreface_nb.export.calibration import store_faces

            faces = store_faces(args.calibrate, info, args.calibration_faces)
        else:
            import numpy as np

            faces = np.random.default_rng(0).normal(0, 1, (4, 3, info.input_size, info.input_size))
        parity = check_parity(model, fp32, faces.astype("float32")[:8])
        print(f"{fp32}: parity max abs diff {parity['max_abs_diff']:.2e} (atol {parity['atol']})")
        if args.calibrate:
            int8 = quantize_int8(fp32, faces)
            print(f"{int8}: int8, calibrated on {len(faces)} faces of {args.calibrate}")
    except (LibreFaceError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def import_main(argv: list[str]) -> int:
    """``libreface-nb import-libreface``; returns the exit code."""
    from libreface_nb.models.checkpoints import libreface_model
    from libreface_nb.models.factory import save_model

    p = argparse.ArgumentParser(
        prog="libreface-nb import-libreface",
        description="A LibreFace 0.2.0 student (ResNet-18 or RepVGG-A0) → …_fp32.onnx or .pt.",
    )
    p.add_argument("checkpoint", help="a LibreFace student file ({'model': state_dict})")
    p.add_argument("--out", required=True, help="…_fp32.onnx (for predict) or .pt")
    p.add_argument("--task", choices=("intensity", "detection"), help="for a 12-output head")
    p.add_argument("--img-size", type=int, default=224)
    args = p.parse_args(argv)
    out = Path(args.out)
    try:
        if out.suffix not in (".onnx", ".pt"):
            raise ConfigError(f"{out}: write the imported model as …_fp32.onnx or .pt")
        model, report = libreface_model(args.checkpoint, args.task, args.img_size)
        if out.suffix == ".onnx":
            from libreface_nb.export.onnx import export_onnx

            out = export_onnx(model, out, source=str(args.checkpoint), training_data="")
        else:
            extra = {"imported_from": "libreface", "source": str(args.checkpoint)}
            out = save_model(out, model, extra=extra)
    except (LibreFaceError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    arch = model.config.arch
    print(f"{out}: LibreFace {arch} student ({', '.join(model.tasks)}) from {args.checkpoint}")
    for note in report.notes:
        print(f"note: {note}")
    return 0
