"""A fake for ``python -m pip`` on Colab (tests only): the kit's install cell runs pip on Colab, which cannot run
here (no network; the test venv has every pin already). It records the command in ``$COLAB_STANDIN_PIP_LOG`` and
installs nothing."""
import json
import os
import sys

log = os.environ.get("COLAB_STANDIN_PIP_LOG")
if log:
    with open(log, "a") as f:
        f.write(json.dumps(sys.argv[1:]) + "\n")
print("(stand-in pip: nothing installed) pip " + " ".join(sys.argv[1:]))
