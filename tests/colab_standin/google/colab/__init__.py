"""Stand-in for Colab's ``google.colab`` package (googlecolab/colabtools, google/colab/__init__.py): the modules the
kit and huggingface_hub use. Tests only; the world's state comes from ``$COLAB_STANDIN_STATE`` (a JSON file)."""
import json as _json
import os as _os

from google.colab import _message, drive, errors, userdata  # noqa: F401  (imported at kernel start, as on Colab)


def _state() -> dict:
    path = _os.environ.get("COLAB_STANDIN_STATE")
    return _json.loads(open(path).read()) if path and _os.path.exists(path) else {}
