"""Files a user cares about are written beside their place and moved in only when complete.

- `check_out_folder(out, overwrite)` (and `check_writable_folder(path)` for `--to`): before
  any work (and before TensorFlow is imported),
  refuses an `--out` that is a file, lies under a file, or already holds files (unless
  `overwrite`), so a typo fails in well under a second and no run mixes old and new files.
- `staged_folder(out, overwrite)`: a context manager yielding a new temporary folder
  `.<name>.partial-<host>-<pid>-*` beside `out`. When the block ends without error, the
  temporary folder takes `out`'s place in one atomic exchange (`renameat2` with
  `RENAME_EXCHANGE` on Linux; elsewhere two renames) and the old folder is removed. A run
  that fails, is interrupted or is killed (even with SIGKILL) leaves `out` exactly as it
  was; its leftover temporary folder is removed by the next run into the same parent.
- `temporary_folder(parent, prefix)` and `remove_stale(parent, prefix)`: the same naming and
  clean-up for other writers (versioned exports use them).

Example:

>>> import pathlib, tempfile
>>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
>>> with staged_folder(out) as folder:
...     _ = (folder / "model.keras").write_text("new")
>>> sorted(p.name for p in out.iterdir())
['model.keras']
>>> check_out_folder(out, overwrite=False)
Traceback (most recent call last):
...
apps.common.staging.OutFolderError: ...: holds files already (model.keras); pass --overwrite \
to replace them once the new run is complete, or choose another --out
"""

import contextlib
import ctypes
import ctypes.util
import os
import pathlib
import shutil
import socket
import tempfile


class OutFolderError(ValueError):
    """An output folder that cannot be written as asked; the message names it."""


def _file_above(path):
    for parent in [path, *path.parents]:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def check_writable_folder(path, option="--out"):
    """Raises `OutFolderError` when `path` is a file, lies under a file or cannot be made.

    Returns:
        `path` as a `pathlib.Path`.
    """
    path = pathlib.Path(path)
    blocker = _file_above(path)
    if blocker is not None:
        where = "is a file" if blocker == path else f"lies under the file {blocker}"
        raise OutFolderError(f"{path}: {where}; {option} must be a folder")
    parent = next(p for p in [path, *path.parents] if p.exists())
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutFolderError(f"{path}: cannot write into {parent} (permission denied; {option})")
    return path


def check_out_folder(out, overwrite=False, option="--out"):
    """Raises `OutFolderError` when `out` cannot receive a new run (see the module docstring).

    Returns:
        `out` as a `pathlib.Path`.
    """
    out = check_writable_folder(out, option)
    names = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if names and not overwrite:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise OutFolderError(
            f"{out}: holds files already ({shown}); pass --overwrite to replace them once "
            f"the new run is complete, or choose another {option}"
        )
    return out


def _owner_prefix(prefix):
    return f"{prefix}{socket.gethostname()}-"


def _is_stale(name, prefix):
    """Whether a temporary folder named `name` belongs to a process of this host that ended."""
    mine = _owner_prefix(prefix)
    if not name.startswith(mine):
        return False
    pid = name[len(mine) :].partition("-")[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def remove_stale(parent, prefix):
    """Removes `parent/<prefix><host>-<pid>-*` folders whose process has ended."""
    parent = pathlib.Path(parent)
    if not parent.is_dir():
        return []
    removed = []
    for path in parent.iterdir():
        if path.is_dir() and _is_stale(path.name, prefix):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def temporary_folder(parent, prefix):
    """A new empty folder `parent/<prefix><host>-<pid>-XXXX`, readable as the umask allows."""
    parent = pathlib.Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale(parent, prefix)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"{_owner_prefix(prefix)}{os.getpid()}-",
                                        dir=parent))  # fmt: skip
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a server may run as another user
    return tmp


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a, b):
    """Atomically swaps the paths `a` and `b` (Linux `renameat2`); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result != 0:
        errno = ctypes.get_errno()
        if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the filesystem cannot
            return False
        raise OSError(errno, os.strerror(errno), str(b))
    return True


def replace_folder(new, out):
    """Puts the complete folder `new` at `out`; the old `out` (if any) is then removed."""
    new, out = pathlib.Path(new), pathlib.Path(out)
    if not out.exists():
        os.rename(new, out)
        return
    if not _exchange(new, out):
        old = new.with_name(new.name + "-old")
        os.rename(out, old)
        os.rename(new, out)
        new = old
    shutil.rmtree(new, ignore_errors=True)  # now the old folder


@contextlib.contextmanager
def staged_folder(out, overwrite=False):
    """Yields a temporary folder that replaces `out` when the block completes.

    Raises:
        OutFolderError: see `check_out_folder` (checked again, as files may have appeared).
    """
    out = check_out_folder(out, overwrite)
    prefix = f".{out.name}.partial-"
    tmp = temporary_folder(out.parent, prefix)
    try:
        yield tmp
        check_out_folder(out, overwrite)
        replace_folder(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
