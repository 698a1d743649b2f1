"""As colabtools' google/colab/errors.py: the base class of Colab's errors."""


class Error(Exception):
    """Base class for all Colab errors."""


class AuthorizationError(Error):
    """Authorization-related failures."""
