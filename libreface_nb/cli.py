"""The ``libreface-nb`` command.

libreface-nb run --profile fixture [--only NN] [--set key=value]   # run the notebooks
libreface-nb predict PATH... --out results.csv  # AUs, expressions, pose per frame and face
libreface-nb export CHECKPOINT --out DIR       # a model.pt → DIR/student_fp32.onnx (+ int8)
libreface-nb import-libreface CHECKPOINT --out FILE  # LibreFace's student → ONNX or .pt
libreface-nb version
"""

from __future__ import annotations

import sys

COMMANDS = {
    "run": "execute the numbered notebooks headless into a new run folder",
    "predict": "AUs, expressions and head pose for images, folders and videos → CSV/Parquet",
    "export": "export a model.pt to ONNX (fp32, and int8 with --calibrate STORE)",
    "import-libreface": "LibreFace's released student file → a model predict runs",
    "version": "print the package version",
}
#: Sub-commands implemented elsewhere: name → (module, function taking argv, returning a code).
HANDLERS = {
    "predict": ("libreface_nb.infer.cli", "predict_main"),
    "export": ("libreface_nb.infer.cli", "export_main"),
    "import-libreface": ("libreface_nb.infer.cli", "import_main"),
}


def _usage() -> str:
    lines = ["usage: libreface-nb COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<17} {text}" for name, text in COMMANDS.items()]
    lines += ["", "libreface-nb COMMAND --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a sub-command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command == "run":
        from libreface_nb.run import main as run_main

        return run_main(rest)
    if command in HANDLERS:
        import importlib

        module, func = HANDLERS[command]
        return getattr(importlib.import_module(module), func)(rest)
    if command == "version":
        from libreface_nb import __version__

        print(__version__)
        return 0
    print(f"libreface-nb: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
