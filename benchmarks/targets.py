"""What the benchmark compares and what it aims for: the workload and implementation
names, and the targets the tables print ``ok`` or ``MISS`` against.

The runner's parent process imports this module and never NumPy (see run.py), hence
the names here rather than imported from workloads.py (a test checks they agree).
"""

WORKLOAD_NAMES = ("mlp", "cnn", "rnn", "lstm", "deep_rnn")
IMPLEMENTATIONS = ("minigrad", "reference", "pytorch")

# The targets at 1 thread, minigrad / reference and minigrad / PyTorch (time per step):
# issue 14's where it sets one, issue 6's elsewhere (the PyTorch ones but cnn's).
TARGETS = {
    "mlp": (1.10, 1.0), "cnn": (1.10, 1.5), "rnn": (1.15, 1.5), "lstm": (1.10, 2.0), "deep_rnn": (1.15, 1.0),
}
TARGET_RSS_RATIO = 1.2  # peak RSS of minigrad / reference
TARGET_OPS_PER_SECOND = 100_000
TARGET_RSS_GROWTH_PERCENT = 5.0
