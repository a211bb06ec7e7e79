"""The one error type the server extension answers with. No HTTP here."""


class ClusterError(Exception):
    """A request that is refused or cannot be done; `status` is the fitting HTTP-like code."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status
