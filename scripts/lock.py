"""Write requirements.lock from the virtualenv the tests passed in: every installed package (the
project itself excluded) at its exact version, with the sha256 of the wheel pip picks for it.

    .venv/bin/python scripts/lock.py        # after changing dependencies and passing `make test`

The wheels are downloaded into a temporary folder to be hashed (torch's CPU build comes from the
machine's local wheel folder, like every install here). Hashes pin this machine kind's wheels
(CPython 3.11, x86-64 Linux); `make` installs with `pip install --require-hashes`, which also
refuses any package the lock leaves out.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main() -> int:
    pip = [sys.executable, "-m", "pip"]
    frozen = subprocess.run([*pip, "freeze", "--all", "--exclude-editable"], capture_output=True, text=True, check=True).stdout
    pins = [line for line in frozen.splitlines() if line and not line.startswith(("#", "-e"))]
    bad = [p for p in pins if "==" not in p]
    if bad:
        sys.exit(f"not pinnable (installed from a path or URL?): {bad}")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pins.txt").write_text("\n".join(pins) + "\n", "utf-8")
        subprocess.run([*pip, "download", "-q", "--no-deps", "-r", str(Path(tmp) / "pins.txt"), "-d", tmp], check=True)
        hashes = {}
        for f in Path(tmp).iterdir():
            if f.suffix == ".whl":
                name = canonical(f.name.split("-")[0])
                hashes[name] = hashlib.sha256(f.read_bytes()).hexdigest()
    lines = [
        "# Exact versions of everything `make test` passed with; written by scripts/lock.py (do not edit).",
        f"# Python {sys.version.split()[0]}; installed by the Makefile with `pip install --require-hashes -r requirements.lock`.",
    ]
    for pin in sorted(pins, key=lambda p: canonical(p.split("==")[0])):
        name = canonical(pin.split("==")[0])
        if name not in hashes:
            sys.exit(f"no wheel was downloaded for {pin}")
        lines.append(f"{pin} \\\n    --hash=sha256:{hashes[name]}")
    LOCK.write_text("\n".join(lines) + "\n", "utf-8")
    print(f"wrote {LOCK} ({len(pins)} packages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
