"""The code the cluster runs: a frozen copy of the working tree, as the image is.

The Dockerfile copies the tree and runs collectstatic with DEBUG off (hashed
names and a manifest, which DEBUG=False pages need). Here the same happens
into var/cluster/build/app: edits made while a cluster runs do not reach its
processes halfway (a restarted node runs what the others run), and the
checkout's own staticfiles/ (DEBUG's) is left alone. The copy is reused
while no file of the tree changed; the virtualenv and node_modules are the
checkout's own.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
# The harness itself: the processes never run it, and editing it need not rebuild.
HARNESS = Path(__file__).resolve().parent
# Not part of the image: the Dockerfile's build context would skip these too.
SKIPPED = {
    ".git",
    ".venv",
    "node_modules",
    "var",
    "staticfiles",
    ".env",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".schemathesis",
    "test-artifacts",
    "results",
    "cryptomonitor.egg-info",
}


def _skipped(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in SKIPPED or Path(directory, n) == HARNESS]


def _tree(root: Path) -> list[Path]:
    files = []
    for directory, subdirs, names in os.walk(root):
        skipped = set(_skipped(directory, subdirs + names))
        subdirs[:] = sorted(d for d in subdirs if d not in skipped)
        files += [Path(directory, n) for n in sorted(names) if n not in skipped]
    return files


def fingerprint(root: Path = BASE_DIR) -> str:
    """Changes whenever a file of the tree is added, removed or modified."""
    digest = hashlib.sha256()
    for path in _tree(root):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def build(target: Path, python: Path, log: Path) -> tuple[Path, bool]:
    """The app directory under `target`, rebuilt unless the tree is unchanged.

    Returns (app directory, whether it was rebuilt).
    """
    app, stamp = target / "app", target / "fingerprint"
    current = fingerprint()
    if stamp.exists() and stamp.read_text() == current and (app / "staticfiles").is_dir():
        return app, False
    shutil.rmtree(app, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    shutil.copytree(BASE_DIR, app, ignore=_skipped)
    (app / "node_modules").symlink_to(BASE_DIR / "node_modules")
    environment = {
        "PATH": f"{python.parent}:/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "cryptomonitor.settings",
        "PYTHONPATH": str(app),
        "DEBUG": "False",
        # As the Dockerfile: a key made for this one command, kept nowhere.
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    with log.open("w") as out:
        done = subprocess.run(  # noqa: S603 (our virtualenv's python, fixed arguments)
            [str(python), "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=app,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"collectstatic failed in {app}:\n{log.read_text()[-3000:]}")
    stamp.write_text(current)
    return app, True
