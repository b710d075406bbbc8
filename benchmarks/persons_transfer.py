"""Before and after, on the same people: score one run's models on another run's held-out persons.

The persons change (issue 21) trains on SynthAU made from 100 real people with person-exclusive
folds. To say what it bought, the models of an earlier run (e.g. trained on the two bundled
photos) and of the new run are scored on exactly the same test data through exactly notebook 04's
code path:

- SynthAU PCC on the test fold of ``--on`` (persons no model of that run saw):
  :func:`libreface_nb.eval.pipeline.evaluate_checkpoint` then
  :func:`libreface_nb.eval.predictions.metrics_from_predictions` with a person bootstrap;
- the real-face checks on the persons held out by ``--on``'s fold:
  :func:`libreface_nb.eval.real_faces.run_checks` (paired smiles, neutral faces).

A model of a run whose training persons overlap ``--on``'s test persons would be scored on people
it saw: the script refuses that (the bundled photos are not among the real persons).

Usage::

    python benchmarks/persons_transfer.py RUN [RUN ...] --on NEW_RUN [--models teacher,student]

Prints one JSON line per (run, model) and writes them to
``outputs/persons_transfer/<time>/results.jsonl`` (never overwritten).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")


def _persons(run: Path, roles: tuple[str, ...]) -> set[str]:
    from libreface_nb.data.splits import load_run_data
    from libreface_nb.eval.real_faces import seen_persons

    data = load_run_data(run)
    if roles == ("test",):
        col = "person" if "person" in data.index.columns else "subject"
        return set(data.index.loc[data.roles == "test", col].astype(str))
    return seen_persons(data.index, data.roles)


def score(run: Path, name: str, on: Path, n_boot: int, seed: int) -> dict:
    """SynthAU PCC on ``on``'s test persons and the real-face headline numbers of one model."""
    from libreface_nb.data.persons import photo_set
    from libreface_nb.data.splits import load_run_data
    from libreface_nb.data.synth.base import REAL_FACES
    from libreface_nb.eval import pipeline, real_faces
    from libreface_nb.eval.predictions import metrics_from_predictions

    path = run / pipeline.RUN_MODELS[name]
    data = load_run_data(on)
    overlap = _persons(run, ("train", "val")) & _persons(on, ("test",))
    if overlap:
        raise SystemExit(f"{run.name} trained on {len(overlap)} of the test persons of {on.name}")
    table = pipeline.evaluate_checkpoint(path, data, "intensity")
    long, summary = metrics_from_predictions(table, "intensity", n_boot=n_boot, seed=seed)
    mean = long[(long["metric"] == "pcc") & (long["output"] == "mean")].iloc[0]
    unseen = real_faces.held_out(photo_set(REAL_FACES), _persons(on, ("train", "val")))
    check = real_faces.run_checks({name: path}, unseen, n_boot=n_boot, seed=seed)
    real = check.headline()
    keep = ("real_smile_higher_AU12", "real_smile_higher_AU06", "real_smile_higher_AU25",
            "real_smile_diff_AU12", "real_neutral_mean_max", "real_neutral_mean_mean")  # fmt: skip
    out = {
        "run": run.name, "model": name, "on": on.name,
        "test_persons": int(data.index.loc[data.roles == "test", "subject"].nunique()),
        "synth_pcc": float(mean["value"]),
        "synth_pcc_ci": [float(mean.get("ci_low", "nan")), float(mean.get("ci_high", "nan"))],
    }  # fmt: skip
    for key in keep:
        for suffix in ("", "_ci_low", "_ci_high"):
            out[f"{key}{suffix}"] = real.get(f"{key}_{name}{suffix}")
    out["real_smile_pairs"] = real.get(f"real_smile_higher_n_{name}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders whose models are scored")
    ap.add_argument("--on", required=True, type=Path, help="the run whose test persons score them")
    ap.add_argument("--models", default="teacher,student")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from libreface_nb.config import REPO_ROOT
    from libreface_nb.eval.pipeline import RUN_MODELS

    out = REPO_ROOT / "outputs" / "persons_transfer" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=False)
    with open(out / "results.jsonl", "w") as fh:
        for run in args.runs:
            for name in [m.strip() for m in args.models.split(",") if m.strip()]:
                if not (run / RUN_MODELS[name]).is_file():
                    print(f"{run.name}: no {name}; skipped", file=sys.stderr)
                    continue
                line = json.dumps(score(run, name, args.on, args.n_boot, args.seed))
                print(line, flush=True)
                fh.write(line + "\n")
    print("written to", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
