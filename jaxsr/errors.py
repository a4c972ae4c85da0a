"""The one exception type that command-line tools turn into a one-line ``error: ...`` message."""


class JaxsrError(Exception):
    """A user-facing error: bad input, bad flags or a file that does not fit. Its message is one line."""
