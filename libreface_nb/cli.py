"""The ``libreface-nb`` command.

libreface-nb run --profile fixture [--only NN] [--set key=value]   # run the notebooks
libreface-nb predict PATH... --out results.csv  # AUs, expressions, pose per frame and face
libreface-nb export CHECKPOINT --out DIR       # a model.pt → DIR/student_fp32.onnx (+ int8)
libreface-nb import-libreface CHECKPOINT --out FILE  # LibreFace's student → ONNX or .pt
libreface-nb version

A sub-command is one entry of :data:`COMMANDS`: its one-line help and a function that takes the
remaining arguments and returns the exit code (import heavy modules inside that function).
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def _run(argv: list[str]) -> int:
    from libreface_nb.run import main as run_main

    return run_main(argv)


def _version(argv: list[str]) -> int:
    from libreface_nb import __version__

    print(__version__)
    return 0


def _predict(argv: list[str]) -> int:
    from libreface_nb.infer.cli import predict_main

    return predict_main(argv)


def _export(argv: list[str]) -> int:
    from libreface_nb.export.cli import export_main

    return export_main(argv)


def _import_libreface(argv: list[str]) -> int:
    from libreface_nb.export.cli import import_main

    return import_main(argv)


#: Sub-command → (one-line help, handler(argv) → exit code).
COMMANDS: dict[str, tuple[str, Callable[[list[str]], int]]] = {
    "run": ("execute the numbered notebooks headless into a new run folder", _run),
    "predict": (
        "AUs, expressions and head pose for images, folders and videos → CSV/Parquet",
        _predict,
    ),
    "export": (
        "export a model.pt to ONNX (fp32, and int8 with --calibrate STORE)",
        _export,
    ),
    "import-libreface": (
        "LibreFace's released student file → a model predict runs",
        _import_libreface,
    ),
    "version": ("print the package version", _version),
}


def _usage() -> str:
    lines = ["usage: libreface-nb COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<17} {text}" for name, (text, _) in COMMANDS.items()]
    lines += ["", "libreface-nb COMMAND --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a sub-command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"libreface-nb: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    return COMMANDS[command][1](rest)


if __name__ == "__main__":
    sys.exit(main())
