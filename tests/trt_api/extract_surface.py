"""Extract the Python API surface of real TensorRT bindings into ``surfaces/<version>.json``.

The registry's ``tensorrt-bindings`` (8.6) and ``tensorrt-cu12-bindings`` (10.x, 11.x) wheels hold
the real compiled ``tensorrt`` module, which needs ``libnvinfer`` to import. Its only calls into the
NVIDIA libraries at import time are a handful of C factory functions (``createInferBuilder_INTERNAL``,
``getPluginRegistry``, ...), so this script builds stand-in ``libnvinfer*.so`` files that export
those symbols (every factory returns NULL), imports the real module with them, and walks it:

* ``module``: public top-level names (classes, functions, dtypes such as ``float32``);
* ``classes``: public attributes (methods, properties) of every class;
* ``enums``: members and their integer values of every pybind11 enum (``BuilderFlag.TF32``...);
* ``without_gpu``: what ``trt.Builder(logger)`` / ``trt.Runtime(logger)`` do when the library
  cannot create one (the real binding's reaction to a NULL factory result).

Every extracted name is also checked to occur as a string in ``tensorrt.so`` or ``__init__.py``.

Usage (needs pip, a C compiler and binutils' ``nm``/``readelf``; writes next to this file)::

    python tests/trt_api/extract_surface.py 8.6.1 10.0.1 10.3.0 10.16.1.11 11.0.0.114 11.4.0.106

The wheel must match the running Python (``cp311`` for Python 3.11); the output is the same for any
Python version the wheel is built for.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "surfaces"
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64")
_C_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

WALK = r"""
import inspect, json, sys
import tensorrt as trt

def public(names):
    return sorted(n for n in names if not n.startswith("_"))

surface = {"tensorrt": trt.__version__, "module": public(dir(trt)), "classes": {}, "enums": {}}
for name in surface["module"]:
    obj = getattr(trt, name)
    if not inspect.isclass(obj):
        continue
    members = getattr(obj, "__members__", None)
    if isinstance(members, dict) and members:
        surface["enums"][name] = {k: int(v) for k, v in members.items()}
    surface["classes"][name] = public(dir(obj))
without_gpu = {}
logger = trt.Logger(trt.Logger.WARNING)
for name in ("Builder", "Runtime"):
    try:
        made = getattr(trt, name)(logger)
        without_gpu[name] = "returned " + type(made).__name__
    except Exception as exc:
        without_gpu[name] = f"{type(exc).__name__}: {exc}"
surface["without_gpu"] = without_gpu
json.dump(surface, sys.stdout)
"""


def download(package: str, version: str, dest: Path) -> Path:
    """``pip download --no-deps`` the wheel of ``package==version`` for this Python; returns its path."""
    tag = f"{sys.version_info.major}{sys.version_info.minor}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest)]
    cmd += ["--python-version", tag] + [a for p in PLATFORMS for a in ("--platform", p)]
    subprocess.run(cmd + [f"{package}=={version}"], check=True)
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise SystemExit(f"no wheel of {package}=={version} for cp{tag}")
    return wheels[0]


def _undefined_c_symbols(so: Path) -> List[str]:
    out = subprocess.run(["nm", "-D", "--undefined-only", str(so)], check=True, capture_output=True, text=True)
    names = [line.split()[-1] for line in out.stdout.splitlines() if line.strip()]
    skip = ("Py", "_Py", "__", "_ITM", "_Unwind")
    nvidia = [n for n in names if n.startswith("_Z") and re.search(r"nv(infer|onnx|caffe|uff)", n)]
    plain = [n for n in names if not n.startswith(("_Z",) + skip)]
    return sorted(n for n in nvidia + plain if "@" not in n and _C_SYMBOL.match(n))


def _needed_nvidia_libs(so: Path) -> List[str]:
    out = subprocess.run(["readelf", "-d", str(so)], check=True, capture_output=True, text=True)
    return re.findall(r"\[(libnv[^\]]+)\]", out.stdout)


def build_stub_libs(so: Path, lib_dir: Path) -> List[str]:
    """Stand-in ``libnv*.so.N`` exporting every C symbol the module imports (each returns NULL)."""
    symbols = _undefined_c_symbols(so)
    source = lib_dir / "stub.c"
    source.write_text("".join(f"void *{s}(void) {{ return 0; }}\n" for s in symbols), encoding="utf-8")
    for lib in _needed_nvidia_libs(so):
        cmd = ["cc", "-shared", "-fPIC", "-o", str(lib_dir / lib), f"-Wl,-soname,{lib}", str(source)]
        subprocess.run(cmd, check=True)
    return symbols


def _names_in_binary(package: Path) -> bytes:
    return (package / "tensorrt.so").read_bytes() + (package / "__init__.py").read_bytes()


def check_names(surface: Dict[str, Any], blob: bytes) -> None:
    """Every extracted name must occur in the compiled module or its ``__init__.py``."""
    names = set(surface["module"]) | {m for members in surface["classes"].values() for m in members}
    names |= {m for members in surface["enums"].values() for m in members}
    missing = sorted(n for n in names if n.encode() not in blob)
    inherited = {"name", "value"}  # pybind11's enum base adds these from its own headers
    missing = [n for n in missing if n not in inherited]
    if missing:
        raise SystemExit(f"names not found in the binary: {missing[:10]}")


def extract(version: str, work: Path) -> Dict[str, Any]:
    """The surface of TensorRT ``version`` (downloads, stubs, imports in a child process)."""
    package_name = "tensorrt-bindings" if version.startswith("8.") else "tensorrt-cu12-bindings"
    wheel = download(package_name, version, work / "wheel")
    root = work / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(root)
    package = root / "tensorrt"
    (root / "tensorrt_bindings").rename(package)
    libs = work / "libs"
    libs.mkdir()
    stubbed = build_stub_libs(package / "tensorrt.so", libs)
    env = {**os.environ, "LD_LIBRARY_PATH": str(libs), "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", WALK], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"importing TensorRT {version} with stub libraries failed:\n{out.stderr[-2000:]}")
    surface = json.loads(out.stdout)
    check_names(surface, _names_in_binary(package))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    surface["source"] = {"wheel": wheel.name, "sha256": digest, "stubbed_symbols": stubbed}
    return surface


def write_surface(surface: Dict[str, Any], out_dir: Path) -> Path:
    """One JSON file per version, one line per class (small diffs between versions)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{surface['tensorrt']}.json"
    lines = ["{"]
    head = {k: surface[k] for k in ("tensorrt", "source", "without_gpu", "module")}
    for key, value in head.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value)},")
    for section in ("classes", "enums"):
        items = [f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(surface[section].items())]
        lines.append(f'  "{section}": {{\n' + ",\n".join(items) + "\n  }" + ("," if section == "classes" else ""))
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="+", help="exact wheel versions, e.g. 10.3.0 11.4.0.106")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    for version in args.versions:
        with tempfile.TemporaryDirectory(prefix="trt-surface-") as tmp:
            path = write_surface(extract(version, Path(tmp)), args.out)
        print(f"{version}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
