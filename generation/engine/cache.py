"""Worker-side cache of loaded pipelines, bounded by a memory budget, least recently used out."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CachedPipeline:
    pipe: Any
    nbytes: int
    loaded_loras: set[str] = field(default_factory=set)
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. the img2img view sharing the same modules


def pipeline_nbytes(pipe: Any) -> int:
    total = 0
    for component in getattr(pipe, "components", {}).values():
        parameters = getattr(component, "parameters", None)
        if callable(parameters):
            total += sum(p.numel() * p.element_size() for p in parameters())
    return total


class PipelineCache:
    """Keeps pipelines loaded across jobs; evicts the least recently used when over budget."""

    def __init__(self, *, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[tuple, CachedPipeline] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # how many times a pipeline was read from disk; tests and the benchmark read it

    def get(self, key: tuple, loader: Callable[[], Any]) -> CachedPipeline:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        pipe = loader()
        entry = CachedPipeline(pipe=pipe, nbytes=pipeline_nbytes(pipe))
        with self._lock:
            self.loads += 1
            self._entries[key] = entry
            self._evict(keep=key)
        return entry

    def evict(self, key: tuple) -> None:
        """Drop a pipeline whose state may be damaged (e.g. a LoRA failed half-way through loading)."""
        with self._lock:
            self._entries.pop(key, None)
        _release_accelerator_memory()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        _release_accelerator_memory()

    @property
    def used_bytes(self) -> int:
        return sum(e.nbytes for e in self._entries.values())

    def keys(self) -> list[tuple]:
        return list(self._entries)

    def _evict(self, *, keep: tuple) -> None:
        evicted = False
        while self.used_bytes > self.budget_bytes and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            if oldest == keep:
                break
            self._entries.pop(oldest)
            evicted = True
        if evicted:
            _release_accelerator_memory()


def _release_accelerator_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
