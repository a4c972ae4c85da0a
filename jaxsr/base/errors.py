"""The one exception type that command-line tools turn into a one-line ``error: ...`` message."""


class JaxsrError(Exception):
    """A user-facing error: bad input, bad flags or a file that does not fit. Its message is one line."""


class UsageError(JaxsrError):
    """A bad combination of command-line flags that argparse cannot see: exit status 2, as argparse's."""


class NonFiniteOutput(JaxsrError):
    """A model gave a NaN or infinite output: its weights are broken. Never scored, never written; it ends
    the command (one ``error:`` line naming the weights), it is not the failure of one image."""
