"""The Textual terminal UI (`qa`, `qa tui`). The app, its screens and widgets live in sibling modules."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional


def run(corpus: Optional[Path] = None, index_dir: Optional[Path] = None) -> int:
    from .app import QaApp, background_busy

    app = QaApp(corpus, index_dir)
    app.run()
    code = app.return_code or app.open_exit_code
    if background_busy():
        # The user quit while the index was still being built or the model loaded: do not wait
        # for that thread (an unfinished index generation is never published).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
