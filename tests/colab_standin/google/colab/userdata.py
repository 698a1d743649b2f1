"""Stand-in for colabtools' google/colab/userdata.py: ``get(key)`` returns the secret, or raises
``SecretNotFoundError`` (no such secret) or ``NotebookAccessError`` (the notebook was not granted access), the two
errors huggingface_hub catches (utils/_auth.py ``_get_token_from_google_colab``). Secrets: the world state's
``secrets`` (name → value) and ``denied`` (names without access)."""
from google.colab import errors


class NotebookAccessError(Exception):
    """Exception thrown when the current notebook doesn't have access to the requested secret."""

    def __init__(self, key):
        super().__init__(f"Notebook does not have access to secret {key}")


class SecretNotFoundError(errors.Error):
    """Exception thrown when the requested secret is not found."""

    def __init__(self, key):
        super().__init__(f"Secret {key} does not exist.")


def get(key):
    from google.colab import _state

    state = _state()
    if key not in state.get("secrets", {}):
        raise SecretNotFoundError(key)
    if key in state.get("denied", []):
        raise NotebookAccessError(key)
    return state["secrets"][key]
