"""Shared test helpers: PyTorch parity in tinygrad's `helper_test_op` shape, gradchecks,
the real Fashion-MNIST the command-line tests train on, and running `minigrad` in-process."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import cli

DATA = Path("/usr/share/datasets/fashion-mnist")
needs_data = pytest.mark.skipif(
    not DATA.is_dir(),
    reason=f"real Fashion-MNIST not found in {DATA}: apt-get install dataset-fashion-mnist (CI does)",
)


def run_minigrad(*args) -> tuple[int, str, str]:
    """``minigrad ARGS`` in this process: (exit code, stdout, stderr). argparse's errors,
    --help and --version exit with SystemExit, which becomes the exit code here."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = cli.main([str(arg) for arg in args])
        except SystemExit as exit:
            code = exit.code
    return code, stdout.getvalue(), stderr.getvalue()

try:
    import torch
except ImportError:  # torch is the parity oracle; CI installs it, users may not
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (pip install torch)")


def compare_with_torch(fn, torch_fn=None, *arrays, atol=1e-5, rtol=1e-4, grad=True):
    """Run ``fn`` on minigrad Tensors and ``torch_fn`` (default: fn) on torch tensors made
    from the same ``arrays``; compare the outputs, their shapes and dtypes, and (for
    floating inputs, when ``grad``) the gradient of sum(out * w) for a random w with
    respect to every floating input."""
    torch_fn = torch_fn or fn
    floats = [np.asarray(a).dtype.kind == "f" for a in arrays]
    ours = [mg.tensor(a, requires_grad=grad and f) for a, f in zip(arrays, floats)]
    theirs = [torch.tensor(np.asarray(a), requires_grad=grad and f) for a, f in zip(arrays, floats)]
    out, out_t = fn(*ours), torch_fn(*theirs)
    assert out.shape == tuple(out_t.shape), f"shape {out.shape} != torch {tuple(out_t.shape)}"
    assert out.dtype == np.dtype(str(out_t.dtype).replace("torch.", "")), f"dtype {out.dtype} != {out_t.dtype}"
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), atol=atol, rtol=rtol)
    if not (grad and any(floats)):
        return out
    w = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
    (out * mg.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if not floats[i]:
            continue
        expected = b.grad.numpy() if b.grad is not None else np.zeros(b.shape)
        got = a.grad.numpy() if a.grad is not None else np.zeros(a.shape)
        assert a.grad is None or a.grad.dtype == a.dtype, f"grad dtype {a.grad.dtype} != input {a.dtype}"
        np.testing.assert_allclose(got, expected, atol=atol, rtol=rtol, err_msg=f"gradient of input {i}")
    return out


def leaf64(*shape, seed=0, low=None, high=None):
    """A float64 leaf with random values (uniform in [low, high) when given)."""
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return mg.tensor(data, dtype=mg.float64, requires_grad=True)


def gradcheck_second(fn, *inputs, **kwargs):
    """Gradcheck the gradient of sum(fn(*inputs) * w): checks second derivatives."""

    def first_grad(*xs):
        out = fn(*xs)
        w = mg.tensor(np.random.default_rng(2).standard_normal(out.shape), dtype=out.dtype)
        wanted = [x for x in xs if isinstance(x, mg.Tensor) and x.requires_grad]
        grads = mg.grad((out * w).sum(), wanted, create_graph=True)
        return mg.cat([g.reshape(-1) for g in grads])

    return mg.gradcheck(first_grad, list(inputs), **kwargs)
