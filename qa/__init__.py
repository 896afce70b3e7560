"""Offline question answering over archival documents: verbatim quotes with exact references.

    from qa import Archive
    archive = Archive.open("seeds")
    for extract in archive.ask("What did Rusk say about July?").answers:
        print(extract.quote, extract.reference())
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Archive", "Answer", "Extract", "BadQuestion"]


def __getattr__(name):
    # Lazy: `import qa` must stay cheap, the CLI decides what to load.
    if name in ("Archive", "BadQuestion"):
        from . import engine

        return getattr(engine, name)
    if name in ("Answer", "Extract"):
        from . import types

        return getattr(types, name)
    raise AttributeError(name)
