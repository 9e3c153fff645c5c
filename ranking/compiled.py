"""LightGBM rankers compiled to machine code for serving (lleaves, on LLVM): the same scores, ~10× faster.

Scoring all live variants for one user is the largest part of a rank call; LightGBM walks its trees
through a generic interpreter, a compiled forest runs each tree as straight-line branches. Serving
starts on the LightGBM booster as soon as the artefact is read; the compile (about a second for a
150-tree model) runs afterwards on the model-loader thread and the compiled forest takes over only once
it has reproduced the booster's scores on a probe matrix. Anything going wrong (no lleaves, a compile
error, a mismatch) leaves the booster serving, with a warning.

Compiled code is host-specific, so it is cached per host in `KALEIDO_COMPILED_MODEL_DIR` (default `KALEIDO_VAR_DIR/compiled-models`),
keyed by the artefact's SHA-256, the CPU and the compiler versions: the first worker on a host compiles,
the others load the object file. `KALEIDO_RANK_COMPILE_MODELS=0` turns compiling off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

log = logging.getLogger(__name__)

PROBE_ROWS = 256
TOLERANCE = 1e-9


class CompiledForest:
    """A compiled LightGBM model: `predict(x)` → click probabilities, as `Booster.predict(x)` gives."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._model.predict(x, n_jobs=1)


def compile_forest(model_text: bytes, *, sha256: str, booster: Any, categorical: list[int]) -> CompiledForest | None:
    """Compile (or load from this host's cache) the model; None when it cannot serve in the booster's place."""
    try:
        import lleaves
        import llvmlite.binding as llvm
    except ImportError:
        log.info("lleaves is not installed; ranking models are scored by LightGBM")
        return None
    try:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        host = f"{llvm.get_host_cpu_name()}|{llvm.get_host_cpu_features().flatten()}"
        versions = f"{metadata.version('lleaves')}|{metadata.version('llvmlite')}"
        key = hashlib.sha256(f"{host}|{versions}".encode()).hexdigest()[:16]
        folder = Path(settings.KALEIDO_COMPILED_MODEL_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{sha256[:32]}-{key}.o"
        with tempfile.TemporaryDirectory(prefix="kaleido-compile-") as tmp:
            text_path = Path(tmp) / "model.txt"
            text_path.write_bytes(model_text)
            model = lleaves.Model(model_file=str(text_path))
            if target.exists():
                model.compile(cache=str(target))
            else:
                # Written under a unique name and renamed: a concurrent worker never loads half a file.
                partial = folder / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
                model.compile(cache=str(partial))
                os.replace(partial, target)
        forest = CompiledForest(model)
        if not _matches(forest, booster, categorical):
            log.warning("compiled model %s disagrees with LightGBM on the probe; serving with LightGBM", sha256[:12])
            target.unlink(missing_ok=True)
            return None
        return forest
    except Exception:
        log.warning("compiling the ranking model failed; serving with LightGBM", exc_info=True)
        return None


def _matches(forest: CompiledForest, booster: Any, categorical: list[int]) -> bool:
    """Same scores as the booster on random rows: numbers, 0/1 tags, category codes seen and unseen, NaN."""
    rng = np.random.default_rng(7)
    n = booster.num_feature()
    x = np.where(rng.random((PROBE_ROWS, n)) < 0.5, rng.normal(0.0, 50.0, size=(PROBE_ROWS, n)),
                 rng.integers(0, 2, size=(PROBE_ROWS, n)))
    if categorical:
        x[:, categorical] = rng.integers(0, 40, size=(PROBE_ROWS, len(categorical)))
    x[rng.random((PROBE_ROWS, n)) < 0.15] = np.nan
    x = np.ascontiguousarray(x, dtype=np.float64)
    return bool(np.max(np.abs(forest.predict(x) - booster.predict(x, num_threads=1))) <= TOLERANCE)
