"""A fake ``pip`` for the Colab world's kernels (tests only): see __main__.py."""
