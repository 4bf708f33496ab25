#!/usr/bin/env python3
"""Sonarium's one command.  Needs only Python 3.11+.

    python3 run.py            install (first time) and start everything; Ctrl-C stops it
    python3 run.py stop       stop a running instance (from another shell)
    python3 run.py status     is it running?
    python3 run.py test [ARGS]  install test tools and run the tests (ARGS go to pytest)

It creates .venv beside this file (unless it already runs inside a virtual
environment), installs requirements*.txt whenever they change, then hands over
to `python -m launcher` or pytest inside that environment.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

HOME = Path(__file__).resolve().parent
STAMP_NAME = ".sonarium-requirements"


def _environment() -> Path:
    """The interpreter to use: the current one inside a venv, else .venv's."""
    if sys.prefix != sys.base_prefix:
        return Path(sys.executable)
    target = HOME / ".venv"
    python = target / "bin" / "python"
    if not python.exists():
        print(f"creating a virtual environment in {target}", flush=True)
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(target)
        except (subprocess.CalledProcessError, OSError) as error:
            sys.exit(f"could not create {target} ({error}); on Debian or Ubuntu, "
                     f"install the venv module first: apt-get install python3-venv")
    return python


def _install(python: Path, requirement_files: list[Path]) -> None:
    """pip-install the files whose exact content this environment has not installed yet."""
    stamp = Path(subprocess.check_output([str(python), "-c", "import sys; print(sys.prefix)"],
                                         text=True).strip()) / STAMP_NAME
    installed = set(stamp.read_text().split()) if stamp.exists() else set()
    digests = {file: hashlib.sha256(file.read_bytes()).hexdigest() for file in requirement_files}
    missing = [file for file, digest in digests.items() if digest not in installed]
    if not missing:
        return
    print("installing dependencies (first run or requirements changed)...", flush=True)
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    for file in missing:
        command += ["-r", str(file)]
    subprocess.run(command, check=True)
    stamp.write_text("\n".join(sorted(installed | set(digests.values()))))


def main(argv: list[str]) -> None:
    if sys.version_info < (3, 11):
        sys.exit("Sonarium needs Python 3.11 or newer")
    command = argv[0] if argv else "start"
    if command not in ("start", "stop", "status", "test"):
        sys.exit(__doc__)
    python = _environment()
    files = [HOME / "requirements.txt"] + ([HOME / "requirements-test.txt"] if command == "test" else [])
    try:
        _install(python, files)
    except subprocess.CalledProcessError:
        sys.exit("installing dependencies failed (see pip's message above)")
    os.chdir(HOME)
    if command == "test":
        os.execv(str(python), [str(python), "-m", "pytest", *argv[1:]])
    os.execv(str(python), [str(python), "-m", "launcher", command])


if __name__ == "__main__":
    main(sys.argv[1:])
