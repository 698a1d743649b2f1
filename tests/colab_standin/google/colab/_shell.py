"""Stand-in for colabtools' google/colab/_shell.py: Colab's IPython shell class. huggingface_hub recognises Colab
by ``"google.colab" in str(get_ipython())`` (utils/_runtime.py), which this class's module name gives."""
from ipykernel.zmqshell import ZMQInteractiveShell


class Shell(ZMQInteractiveShell):
    """Colab's shell; nothing of its customisations is needed by the kit."""
