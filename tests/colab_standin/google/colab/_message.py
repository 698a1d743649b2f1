"""As colabtools' google/colab/_message.py: ``MessageError`` is what a refused Drive or auth pop-up raises in the
kernel ("Error: credential propagation was unsuccessful", raised from ``read_reply_from_input``)."""


class MessageError(RuntimeError):
    """An error response to a Colab frontend request."""
