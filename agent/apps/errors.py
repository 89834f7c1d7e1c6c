"""The error an app raises when it cannot start from what the config gave it."""

from __future__ import annotations


class AppSetupError(ValueError):
    """A configured model or policy cannot be loaded; the message names the key and why.

    ``edgewise run`` prints it and exits 2, as it does for a config error.
    """
