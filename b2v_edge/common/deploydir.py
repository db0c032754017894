"""All-or-nothing updates of a deploy directory: generations, one atomic switch, one writer at a time.

Layout written by :func:`update`::

    deploy/
      manifest.json -> .b2v-edge/current/manifest.json     (relative symlinks, one per listed file)
      model.onnx    -> .b2v-edge/current/model.onnx
      .b2v-edge/
        current -> gen-k3j2a9                               (the commit point)
        gen-k3j2a9/   manifest.json, model.onnx, ...        (one complete generation)
        lock                                                (flock of the one writer)

Readers need nothing of this: they open ``deploy/manifest.json`` and the files it lists, and every
name leads through ``current`` into one generation. A plain flat deploy dir (as shipped, or copied
with ``cp -rL``) reads the same way.

A writer (export, calibrate, build-engine, parity's summary) works like this:

1. take the lock (``.b2v-edge/lock``, ``flock``: released by the kernel when a process dies); a second
   writer gets :class:`DeployLockedError` at once;
2. sweep what killed writers left behind (generations ``current`` does not point to, temporary
   links and files, ``.export-*`` staging folders, dangling links);
3. stage a new generation: hard links to every file of the current one (never modified in place:
   every write in b2v-edge replaces a file by rename), into which the writer puts its new files and
   its new manifest; files the new manifest does not list are dropped from it;
4. commit: add the top-level links the new generation needs (links to names the current generation
   lacks are dangling and unused until step 5), then replace ``current`` by a link to the new
   generation with one ``rename`` — the single instant at which the deploy dir changes;
5. remove the old generation and links no generation needs.

A SIGKILL before step 4's rename leaves the old generation in place (the new one is swept later); a
kill after it leaves the new one. Either way ``manifest.json`` and every file it lists agree.
A flat deploy dir is first turned into generation 1 holding the same files (hard links; each name is
replaced by an identical link, so it reads the same at every instant).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple, Union

from .errors import B2VError

STATE_DIR = ".b2v-edge"
CURRENT = "current"
LOCK = "lock"
MANIFEST_NAME = "manifest.json"
_TMP_SUFFIX = ".tmp"

_locks: Dict[str, Tuple[int, int]] = {}  # resolved deploy dir -> (fd, depth): reentrant in one process
_stages: Set[str] = set()  # resolved staging dirs of open updates (nested writers write into them)


class DeployLockedError(B2VError, RuntimeError):
    """Another process is writing the deploy dir."""


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _link_target(link: Path, rel: str) -> str:
    """The relative symlink text from ``link`` to ``.b2v-edge/current/<rel>`` of its deploy dir."""
    depth = rel.count("/")
    return "../" * depth + f"{STATE_DIR}/{CURRENT}/{rel}"


def _points_into_current(link: Path, root: Path) -> bool:
    if not link.is_symlink():
        return False
    rel = link.relative_to(root).as_posix()
    return os.readlink(link) == _link_target(link, rel)


def _replace_with_symlink(path: Path, target: str) -> None:
    """Make ``path`` a symlink to ``target`` in one rename (whatever was there is replaced)."""
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.link{_TMP_SUFFIX}"
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def writer_lock(deploy_dir: Union[str, Path]) -> Iterator[Path]:
    """Hold the deploy dir's write lock (reentrant within one process) and sweep leftovers once taken.

    Raises:
        DeployLockedError: another process holds it.
        OSError: the deploy dir cannot be written.
    """
    root = Path(deploy_dir)
    key = str(root.resolve())
    if key in _stages:  # a nested writer inside an open update writes into its staging dir
        yield root
        return
    if key in _locks:
        fd, depth = _locks[key]
        _locks[key] = (fd, depth + 1)
        try:
            yield root
        finally:
            _locks[key] = (fd, _locks[key][1] - 1)
        return
    fd = _acquire(root)
    _locks[key] = (fd, 1)
    try:
        sweep(root)
        yield root
    finally:
        del _locks[key]
        os.close(fd)  # releases the flock


def _acquire(root: Path) -> int:
    state = root / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    fd = os.open(state / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock, updates stay all-or-nothing
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise DeployLockedError(
            f"{root} is being written by another b2v-edge process (pid {holder}); wait for it to finish "
            "or write to another directory"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def sweep(root: Union[str, Path]) -> List[str]:
    """Remove what killed writers left (call with the lock held); returns the removed names.

    Removed: generations ``current`` does not point to, temporary links, ``.export-*`` staging
    folders, ``.*.tmp`` files of interrupted atomic writes, and top-level links into ``current`` whose
    file the current generation does not have. Nothing else is touched.
    """
    root = Path(root)
    state = root / STATE_DIR
    removed: List[str] = []
    live = os.readlink(state / CURRENT) if (state / CURRENT).is_symlink() else None
    if state.is_dir():
        for entry in state.iterdir():
            if entry.name in (LOCK, CURRENT, live):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            removed.append(f"{STATE_DIR}/{entry.name}")
    if not root.is_dir():
        return removed
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if d != STATE_DIR]
        for name in list(dirnames):
            if name.startswith(".export-") and here == root:
                shutil.rmtree(here / name, ignore_errors=True)
                dirnames.remove(name)
                removed.append(name)
        for name in filenames:
            path = here / name
            stale_tmp = here == root and name.startswith(".") and name.endswith(_TMP_SUFFIX)
            dangling = _points_into_current(path, root) and not path.exists()
            if stale_tmp or dangling:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                removed.append(path.relative_to(root).as_posix())
    return removed


def _is_layout(root: Path) -> bool:
    """``root`` is in the generation layout and its top-level manifest leads through ``current``."""
    return (root / STATE_DIR / CURRENT).is_symlink() and _points_into_current(root / MANIFEST_NAME, root)


def _migrate(root: Path) -> None:
    """Turn a flat deploy dir (or one whose top-level manifest was written in place) into generation 1."""
    manifest = root / MANIFEST_NAME
    if not manifest.exists() or _is_layout(root):
        return
    from .manifest import Manifest

    current = root / STATE_DIR / CURRENT
    if current.is_dir() and not current.is_symlink():  # a copy that followed the links: not ours to trust
        shutil.rmtree(current)

    loaded = Manifest.load(root)
    names = [n for n in loaded.files() if loaded.resolve(n, f"manifest entry {n!r}").is_file()]
    gen = _new_generation(root)
    for name in [*names, MANIFEST_NAME]:
        _link_or_copy(root / name, gen / name)
    _fsync_dir(gen)
    _switch(root, gen)
    for name in [*names, MANIFEST_NAME]:
        _replace_with_symlink(root / name, _link_target(root / name, name))
    _fsync_dir(root)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    real = src.resolve()
    try:
        os.link(real, dst)
    except OSError:
        shutil.copy2(real, dst)


def _new_generation(root: Path) -> Path:
    """An empty generation folder, readable like the deploy dir (mkdtemp makes it private)."""
    gen = Path(tempfile.mkdtemp(prefix="gen-", dir=root / STATE_DIR))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(gen, 0o777 & ~umask)
    return gen


def _switch(root: Path, gen: Path) -> None:
    """Point ``current`` at ``gen`` with one rename: the commit."""
    state = root / STATE_DIR
    _replace_with_symlink(state / CURRENT, gen.name)
    _fsync_dir(state)


def _stage(root: Path) -> Path:
    """A new generation folder holding hard links to every file of the current one."""
    state = root / STATE_DIR
    stage = _new_generation(root)
    current = state / CURRENT
    if current.is_symlink():
        base = current.resolve()
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                src = Path(dirpath) / name
                _link_or_copy(src, stage / src.relative_to(base))
    return stage


def _commit(root: Path, stage: Path) -> None:
    if not (stage / MANIFEST_NAME).is_file():
        raise B2VError(f"internal: the update of {root} wrote no {MANIFEST_NAME}; nothing was changed")
    from .manifest import Manifest

    listed = {*Manifest.load(stage).files(), MANIFEST_NAME}
    names = []
    for dirpath, _dirnames, files in os.walk(stage):
        for f in files:
            rel = (Path(dirpath) / f).relative_to(stage).as_posix()
            if rel in listed:
                names.append(rel)
            else:  # a file the new manifest does not list belongs to no generation
                os.unlink(Path(dirpath) / f)
        _fsync_dir(Path(dirpath))
    for name in sorted(names, key=lambda n: n == MANIFEST_NAME):
        link = root / name
        if not _points_into_current(link, root):
            link.parent.mkdir(parents=True, exist_ok=True)
            _replace_with_symlink(link, _link_target(link, name))
    _fsync_dir(root)
    old = (root / STATE_DIR / CURRENT).resolve() if (root / STATE_DIR / CURRENT).is_symlink() else None
    _switch(root, stage)
    if old is not None and old != stage.resolve():
        shutil.rmtree(old, ignore_errors=True)
    sweep(root)


@contextlib.contextmanager
def update(deploy_dir: Union[str, Path]) -> Iterator[Path]:
    """Stage a new generation of ``deploy_dir``; commit it when the block ends without an exception.

    Yields:
        The staging folder: a full copy (hard links) of the current files and manifest. Write new
        files into it by replacing (rename), never in place, and save the new manifest there
        (``Manifest.load(stage)`` … ``.save()``). Inside an open update, a nested ``update`` of the
        staging folder yields it unchanged (one commit for the whole operation).

    Raises:
        DeployLockedError: another process is writing ``deploy_dir``.
        Any exception of the block: nothing is committed; messages of project errors name
        ``deploy_dir`` instead of the staging folder.
    """
    root = Path(deploy_dir)
    if str(root.resolve()) in _stages:
        yield root
        return
    with writer_lock(root):
        _migrate(root)
        stage = _stage(root)
        key = str(stage.resolve())
        _stages.add(key)
        try:
            yield stage
            _commit(root, stage)
        except BaseException as exc:
            shutil.rmtree(stage, ignore_errors=True)
            if isinstance(exc, B2VError) and exc.args and isinstance(exc.args[0], str):
                exc.args = (exc.args[0].replace(str(stage), str(root)), *exc.args[1:])
            raise
        finally:
            _stages.discard(key)
