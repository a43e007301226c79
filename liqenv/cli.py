"""The command-line rule of the project's scripts, in one place.

``train.py``, ``evaluate.py`` and ``benchmarks/*.py`` answer bad input with
one line on stderr naming the flag, and exit status 2, before any work
starts.  :class:`Parser` is an ``argparse.ArgumentParser`` that does so;
:func:`count` and :func:`seed` are argparse types with bounds (a huge
number is refused as surely as a negative one: a billion episodes or a
million env copies never finish, and numpy seeds stop at ``2**32``);
:func:`output_file` refuses an output path that could only fail after the
work is done.  Standard library only.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Callable

__all__ = ["Parser", "UsageError", "count", "seed", "real", "output_file", "one_line",
           "MAX_COUNT", "MAX_SEED"]

#: Largest count (episodes, steps, points, repetitions) a script accepts.
MAX_COUNT = 10**9
#: Largest seed: train.py adds its step count to the seed for numpy (< 2**32).
MAX_SEED = 2**31 - 1


class UsageError(ValueError):
    """Bad command-line input: one line on stderr, exit status 2."""


def one_line(message: object) -> str:
    """``message`` with its whitespace (newlines included) collapsed to single spaces."""
    return " ".join(str(message).split())


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block) and exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def count(lo: int = 1, hi: int = MAX_COUNT) -> Callable[[str], int]:
    """An argparse type: an integer in ``[lo, hi]``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected an integer") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v}: must be an integer in [{lo:,}, {hi:,}]")
        return v

    parse.__name__ = "count"
    return parse


def seed(text: str) -> int:
    """An argparse type: a seed in ``[0, MAX_SEED]``."""
    return count(0, MAX_SEED)(text)


def real(lo: float, hi: float = math.inf, lo_open: bool = True) -> Callable[[str], float]:
    """An argparse type: a finite number in ``(lo, hi]`` (``[lo, hi]`` with ``lo_open=False``)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected a number") from None
        if not math.isfinite(v) or v > hi or v < lo or (lo_open and v == lo):
            raise argparse.ArgumentTypeError(f"{text}: must be a finite number in "
                                             f"{'(' if lo_open else '['}{lo:g}, {hi:g}]")
        return v

    parse.__name__ = "real"
    return parse


def output_file(flag: str, path: str | Path | None, suffixes: tuple[str, ...] = (), folder: bool = False) -> None:
    """UsageError unless ``path`` can be written: a file (or, with ``folder``, a folder) where
    nothing of the other kind is in the way, and no file where one of its parents should be."""
    if path is None or str(path) == "":
        return
    p = Path(path)
    if p.exists() and p.is_dir() != folder:
        raise UsageError(f"{flag} {str(p)!r}: is {'a file' if folder else 'a directory'}")
    if suffixes and p.suffix not in suffixes:
        raise UsageError(f"{flag} {str(p)!r}: must end in {', '.join(suffixes)}")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{flag} {str(p)!r}: {str(parent)!r} is not a directory")
            break
