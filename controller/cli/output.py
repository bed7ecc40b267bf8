"""Output files of the offline commands: checked before the work, written whole or not at all.

``check_output`` runs before any reading or fitting, so a typo in ``--out`` costs
seconds, not a fit; ``atomic_output`` writes to a hidden file beside the target
and renames it over the target only when the write finished, so a failed or
interrupted run never leaves a half-written file or clobbers the previous one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click


def check_output(path: str | Path, flag: str, inputs: Iterable[str | Path] = ()) -> Path:
    """``path`` as a Path if it can be written and is none of ``inputs`` (the files the
    command reads or writes otherwise); a usage error naming ``flag`` otherwise."""
    if str(path) == "-":  # not standard output: a file named '-' nobody would look for
        raise click.BadParameter(
            "'-' is not standard output here: give a file path (the output is a file, "
            "written whole or not at all)", param_hint=flag)
    path = Path(path)
    if path.is_dir():
        raise click.BadParameter(f"{str(path)!r} is a directory", param_hint=flag)
    for other in map(Path, inputs):
        same = path.samefile(other) if path.exists() and other.exists() else (
            path.resolve() == other.resolve())
        if same:
            raise click.BadParameter(
                f"{str(path)!r} is also {str(other)!r}, read or written by this command; "
                "write the output elsewhere",
                param_hint=flag,
            )
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise click.BadParameter(
            f"cannot create {str(path)!r}: {str(ancestor)!r} is not a directory", param_hint=flag
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise click.BadParameter(
            f"cannot write {str(path)!r}: no write permission in {str(ancestor)!r}",
            param_hint=flag,
        )
    return path


def _make_directory(directory: Path, flag: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot create directory {str(directory)!r}: {exc.strerror or exc}", param_hint=flag
        ) from None


@contextmanager
def atomic_output(path: Path, flag: str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` once the body returns.

    The temporary name ends like ``path`` (joblib picks compression from the
    suffix).  On any failure the temporary file is removed and ``path`` keeps
    its previous content; an OS error becomes a click error naming the file.
    """
    _make_directory(path.parent, flag)
    partial = path.with_name(f".partial-{os.getpid()}-{path.name}")
    try:
        yield partial
        os.replace(partial, path)
    except OSError as exc:
        raise click.FileError(str(path), hint=exc.strerror or str(exc)) from None
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def atomic_directory_output(directory: Path, flag: str) -> Iterator[Path]:
    """Yield a hidden temporary directory inside ``directory``; once the body returns,
    every file written there replaces its namesake in ``directory``.  On failure
    nothing in ``directory`` changes."""
    _make_directory(directory, flag)
    try:
        with tempfile.TemporaryDirectory(dir=directory, prefix=".partial-") as partial:
            yield Path(partial)
            for written in sorted(Path(partial).iterdir()):
                os.replace(written, directory / written.name)
    except OSError as exc:
        raise click.FileError(str(directory), hint=exc.strerror or str(exc)) from None
