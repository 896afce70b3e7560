"""End to end, as a person would: `qa` in a real terminal (tmux), type the question, read, quit."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, SEEDS, TELEGRAM
from .tui_support import JULY_QUESTION, RUSK_ON_JULY, TELEGRAM_TITLE

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (make test installs it where it can)")


class Tmux:
    """A private tmux server (own socket file, no user config), so no other session is touched."""

    def __init__(self, socket):
        self.base = ["tmux", "-S", str(socket), "-f", os.devnull]

    def __call__(self, *args: str) -> str:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=30, check=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "qa")

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=30)


def wait_for(predicate, timeout: float, what: str, tmux: Tmux) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = tmux.screen()
        if predicate(screen):
            return screen
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; screen was:\n{screen}")
        time.sleep(0.5)


def conversation_text(screen: str) -> str:
    """The conversation column as one line: wrapped lines joined, card bars and the left panel cut."""
    lines = screen.splitlines()
    col = next((line.index("›") for line in lines if "›" in line), 0)
    parts = [line[max(0, col - 2):].strip().lstrip("│▊").strip() for line in lines]
    return " ".join(p for p in parts if p)


def test_qa_in_tmux_answers_and_quits_cleanly(seeds_index, tmp_path):
    exit_file = tmp_path / "exit-status"
    command = " ".join(
        shlex.quote(str(x)) for x in (sys.executable, "-m", "qa", "--corpus", SEEDS, "--index", seeds_index)
    )
    script = f"cd {shlex.quote(str(ROOT))} && {command}; echo EXIT=$? > {shlex.quote(str(exit_file))}; sleep 60"
    tmux = Tmux(tmp_path / "tmux.sock")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run(
        [*tmux.base, "new-session", "-d", "-s", "qa", "-x", "120", "-y", "40", f"sh -c {shlex.quote(script)}"],
        check=True, timeout=30, env=env,
    )
    try:
        wait_for(lambda s: "qa · seeds" in s and "Ask a question" in s, 60, "the first paint", tmux)
        tmux("send-keys", "-t", "qa", "-l", JULY_QUESTION)
        tmux("send-keys", "-t", "qa", "Enter")
        screen = wait_for(lambda s: f"{TELEGRAM}, line" in s, 180, "the answer", tmux)
        text = conversation_text(screen)
        assert JULY_QUESTION in text
        assert any(sentence in text for sentence in RUSK_ON_JULY), text
        assert f"{TELEGRAM_TITLE}, 1962-10-20" in text

        tmux("send-keys", "-t", "qa", "C-q")
        deadline = time.monotonic() + 30
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert exit_file.exists(), "qa did not exit after ctrl+q"
        assert exit_file.read_text().strip() == "EXIT=0"
    finally:
        tmux.kill()
