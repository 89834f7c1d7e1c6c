"""What every benchmark reports besides its own numbers, and how it checks its arguments."""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np


def machine(**extra: object) -> dict[str, object]:
    """Absolute numbers mean little without the machine they came from; ``extra`` adds what one
    benchmark also depends on (the broker's version, say)."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        **extra,
    }


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
