"""The one exception type for problems a user can fix, shown as a single line with exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a missing file, a bad option, a run made with other options.

    The CLI prints ``error: <message>`` on stderr and exits with code 2, no traceback. Library
    callers can catch it like any other exception.
    """

    exit_code = 2
