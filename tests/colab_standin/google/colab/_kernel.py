"""Stand-in for colabtools' google/colab/_kernel.py: ``Kernel(ipkernel.IPythonKernel)`` whose shell class is
``_shell.Shell`` (``_shell_class_default``), started with ``--IPKernelApp.kernel_class=google.colab._kernel.Kernel``.
So ``google.colab`` is imported when the kernel starts, as on Colab. For the tests: it writes its process id to
``$COLAB_STANDIN_KERNEL_PID`` (a kill-and-resume test ends the runtime by that id)."""
import os

from google.colab import _shell
from ipykernel import ipkernel


class Kernel(ipkernel.IPythonKernel):
    def _shell_class_default(self):
        return _shell.Shell

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        pid_file = os.environ.get("COLAB_STANDIN_KERNEL_PID")
        if pid_file:
            with open(pid_file, "w") as f:
                f.write(str(os.getpid()))
