"""Speed and memory of minigrad beside a hand-written NumPy reference and PyTorch (see README.md)."""
