"""Trained-network evidence of a theorem: run its experiments now (``--train``)
or read the result that ships with the catalogue (``theorems/trained/<id>.json``,
made by the command it records).  Empirical: it is shown beside the verdict
and never enters it.
"""
from __future__ import annotations

import json
import os

from theorems.base import ParameterError

PRESETS = ("ci", "cpu", "paper")
HERE = os.path.dirname(os.path.abspath(__file__))


def shipped_path(theorem_id: str) -> str:
    return os.path.join(HERE, "trained", f"{theorem_id}.json")


def experiments_of(thm) -> tuple:
    return tuple(thm.experiments()) if thm.experiments else ()


def load_shipped(thm) -> dict | None:
    """The shipped cpu result, labelled with where it comes from; None if there is none."""
    from .registry import MODULES, get
    path = shipped_path(thm.id)
    if thm.id not in MODULES or get(thm.id) is not thm or not os.path.exists(path):     # the catalogue's own only
        return None
    with open(path) as f:
        blob = json.load(f)
    blob["source"] = "shipped"
    blob["source_text"] = (f"shipped with the catalogue ({os.path.relpath(path, os.path.dirname(HERE))}), made by "
                           f"`{blob.get('command', '?')}` at {blob.get('tool', '?')} on {blob.get('date', '?')}; "
                           "rerun it, or pass --train, to reproduce")
    return blob


def parse_seeds(text: str | None):
    if text is None:
        return None
    try:
        seeds = tuple(int(s) for s in str(text).split(",") if s.strip())
    except ValueError:
        raise ParameterError(f"--seeds takes a comma-separated list of integers, got {text!r}") from None
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ParameterError(f"--seeds takes distinct non-negative integers, got {text!r}")
    return seeds


def check_request(thm, preset: str | None, experiment: str | None, device: str | None):
    """Usage errors before anything runs."""
    exps = experiments_of(thm)
    if preset is not None and preset not in PRESETS:
        raise ParameterError(f"--train takes {', '.join(PRESETS)}, got {preset!r}")
    if (preset is not None or experiment is not None) and not exps:
        raise ParameterError(f"{thm.id} has no trained-network experiments")
    if experiment is not None and experiment not in [e.id for e in exps]:
        raise ParameterError(f"unknown experiment {experiment!r} for {thm.id} "
                             f"(experiments: {', '.join(e.id for e in exps)})")
    if device is not None:
        if not (device == "cpu" or device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
            raise ParameterError(f"--device takes cpu, cuda or cuda:N, got {device!r}")
        try:
            import torch
        except ImportError:
            raise ParameterError("--device needs torch (pip install torch==2.13.0)") from None
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ParameterError(f"--device {device}: CUDA is not available on this machine")


def load_garg(path: str, heads: int = 8):
    """(label, model) from a checkpoint in Garg et al.'s layout (their state.pt or model.pt)."""
    import torch

    from numeric.training.gpt2 import load_garg_state_dict
    if not os.path.isfile(path):
        raise ParameterError(f"--garg-checkpoint: no such file {path!r}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
        model = load_garg_state_dict(blob, heads=heads)
    except Exception as e:                                   # unreadable or another layout: a usage error
        raise ParameterError(f"--garg-checkpoint {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") \
            from None
    return f"Garg et al.'s layout, loaded from {os.path.basename(path)}", model.eval()


def parse_switch(option: str, value: str | None):
    """auto (None) | on (True) | off (False)."""
    if value is None or value == "auto":
        return None
    if value in ("on", "off"):
        return value == "on"
    raise ParameterError(f"{option} takes auto, on or off, got {value!r}")


def run(thm, preset: str, seeds=None, device=None, resume: bool = True, experiment: str | None = None,
        progress: bool = True, command: str = "", tool: str = "", date: str = "", bf16=None, compile=None,
        garg_checkpoint: str | None = None) -> dict:
    from numeric.training.experiment import run_experiment
    from numeric.training.probe import Study, run_study
    out = []
    given = load_garg(garg_checkpoint) if garg_checkpoint else None
    for e in experiments_of(thm):
        if experiment is not None and e.id != experiment:
            continue
        if given is not None and (not isinstance(e, Study) or e.kind != "probe"):
            continue
        if isinstance(e, Study):
            out.append(run_study(thm.id, e, preset, seeds, device, resume, progress, command, bf16=bf16,
                                 compile=compile, given=given))
        elif getattr(e, "kind", None) == "lsa-depths":
            from numeric.training.lsa import run_depth_study
            out.append(run_depth_study(thm.id, e, preset, seeds, device, resume, progress, command))
        elif getattr(e, "kind", None) == "lsa-logistic":
            from numeric.training.lsa import run_logistic_depth_study
            out.append(run_logistic_depth_study(thm.id, e, preset, seeds, device, resume, progress, command))
        else:
            out.append(run_experiment(thm.id, e, preset, seeds, device, resume, progress, command))
    return {"source": "this run", "source_text": f"trained in this run (preset {preset}; cached models reused)",
            "preset": preset, "command": command, "tool": tool, "date": date, "experiments": out,
            "empirical": True}


def targets_summary(trained: dict | None) -> str | None:
    if not trained or not trained.get("experiments"):
        return None
    ts = [t for e in trained["experiments"] for t in e.get("targets", [])]
    n_exp = len(trained["experiments"])
    met = sum(1 for t in ts if t["met"])
    pre = {e.get("preset") for e in trained["experiments"]}
    return (f"{n_exp} experiment{'s' if n_exp != 1 else ''} ({', '.join(sorted(p for p in pre if p))} preset, "
            f"{trained.get('source')}); " + (f"{met} of {len(ts)} targets met" if ts else "no targets") +
            " (empirical; not part of the verdict)")
