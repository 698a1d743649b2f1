"""Stand-in for colabtools' google/colab/drive.py ``mount(mountpoint, force_remount=False, timeout_ms=120000,
readonly=False)``. Mounted: ``<mountpoint>/MyDrive`` is the world's persistent Drive folder (a symlink to it), and
it prints "Mounted at <mountpoint>" as the real one does; a mountpoint that already has ``MyDrive`` prints "Drive
already mounted at ..." and returns. Refused (the student dismissed the pop-up, or "Run all" left it unanswered):
``MessageError('Error: credential propagation was unsuccessful')``, what the real mount raises then."""
import os as _os

__all__ = ["flush_and_unmount", "mount"]


def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    from google.colab import _message, _state

    if " " in mountpoint:
        raise ValueError("Mountpoint must not contain a space.")
    mountpoint = _os.path.expanduser(mountpoint)
    if not force_remount and _os.path.isdir(_os.path.join(mountpoint, "MyDrive")):
        print(f'Drive already mounted at {mountpoint}; to attempt to forcibly remount, call '
              f'drive.mount("{mountpoint}", force_remount=True).')
        return
    state = _state()
    if state.get("drive") != "accept":
        raise _message.MessageError("Error: credential propagation was unsuccessful")
    if _os.path.isdir(mountpoint) and _os.listdir(mountpoint):
        raise ValueError("Mountpoint must not already contain files")
    _os.makedirs(mountpoint, exist_ok=True)
    _os.makedirs(state["drive_store"], exist_ok=True)
    _os.symlink(state["drive_store"], _os.path.join(mountpoint, "MyDrive"))
    print(f"Mounted at {mountpoint}")


def flush_and_unmount(timeout_ms=24 * 60 * 60 * 1000):
    """Nothing to flush: the stand-in's Drive is a local folder."""
