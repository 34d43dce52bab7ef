"""The backward engine: graph traversal, accumulation, released graphs, hooks, grad mode,
``minigrad.grad`` and higher-order gradients, deep graphs, and memory.

Expected gradients are computed by hand (the calculus is in the comments) or by PyTorch.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref

import numpy as np
import pytest
from helpers import needs_torch, torch

import minigrad as mg
import minigrad.functional as F


def leaf(values, dtype=mg.float64):
    return mg.tensor(values, dtype=dtype, requires_grad=True)


# -------------------------------------------------------------------------------------
# Graph shapes and accumulation


def test_diamond_graph_adds_both_paths():
    # y = a * b with a = x^2 and b = 3x: dy/dx = 2x * 3x + x^2 * 3 = 9 x^2
    x = leaf([1.0, -2.0, 0.5])
    a = x * x
    b = x * 3.0
    (a * b).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 9 * x.numpy() ** 2)


def test_value_used_twice_in_one_op():
    # y = h * h with h = x + 1: dy/dx = 2 (x + 1)
    x = leaf([1.0, 2.0])
    h = x + 1.0
    (h * h).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (x.numpy() + 1))


def test_diamond_non_leaf_consumed_by_many():
    # each of the 5 consumers adds h = 2x once: y = 5 * 2x, dy/dx = 10
    x = leaf([3.0])
    h = x * 2.0
    total = h
    for _ in range(4):
        total = total + h
    total.backward()
    np.testing.assert_allclose(x.grad.numpy(), [10.0])


def test_gradients_accumulate_over_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 3)


def test_leaf_grad_is_own_writable_array():
    """Optimizers change .grad in place: it must not alias another leaf's gradient, the
    caller's grad=, or a read-only broadcast view (the backward of sum)."""
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.data *= 10
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])

    x = leaf(np.ones((2, 3)))
    x.sum().backward()
    x.grad.data[0, 0] = 5.0  # would raise on a broadcast view
    assert x.grad.numpy().sum() == 10.0

    y = leaf([1.0, 2.0])
    g = mg.tensor([1.0, 1.0], dtype=mg.float64)
    (y * 1.0).backward(g)
    y.grad.data += 1
    np.testing.assert_allclose(g.numpy(), [1.0, 1.0])

    # an owned array from Mul's backward, handed by Add to a retained non-leaf and a leaf
    c, e = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    d = c * 1.0
    d.retain_grad()
    ((d + e) * 3.0).sum().backward()
    e.grad.data += 1
    np.testing.assert_allclose(d.grad.numpy(), [3.0, 3.0])

    # what a hook was shown stays as the hook saw it
    z, seen = leaf([1.0, 2.0]), []
    z.register_hook(seen.append)
    ((z * 2.0) * 1.0).sum().backward()
    z.grad.data += 1
    np.testing.assert_allclose(seen[0].numpy(), [2.0, 2.0])


# Ops whose backward hands one gradient array to two inputs (Add, Sub), or a view of it
# (reshape, the broadcast view of sum's backward), or passes it through unchanged.
SHARING_OPS = [
    ("add", lambda a, b: a + b, (2,), (2,)),
    ("sub_broadcast", lambda a, b: a - b, (3, 2), (2,)),
    ("add_0d", lambda a, b: a + b, (), ()),
    ("times_one_plus", lambda a, b: a * 1 + b, (2,), (2,)),
    ("reshapes_added", lambda a, b: a.reshape(2, 1) + b.reshape(1, 2), (2,), (2,)),
    ("add_then_add", lambda a, b: (a + b) + (b + a), (2, 2), (2, 2)),
    ("stack", lambda a, b: mg.stack([a, b]), (3,), (3,)),
]


def _assert_private_writable(*tensors):
    """Each gradient is its own writable array: changing one in place changes no other."""
    if tensors[0].device == "cpu":  # device arrays have no NumPy flags (CuPy is always writable)
        for i, t in enumerate(tensors):
            assert t.data.flags.writeable, f"gradient {i} is read-only"
            for other in tensors[i + 1:]:
                assert not np.shares_memory(t.data, other.data), f"gradient {i} shares memory with another"
    before = [t.numpy().copy() for t in tensors]
    for i, t in enumerate(tensors):
        t.data[...] += 1.0  # raises on a read-only array
        for other, expected in zip(tensors, before):
            np.testing.assert_array_equal(other.numpy(), expected + (other is t), f"writing to gradient {i}")
        t.data[...] -= 1.0


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
@pytest.mark.parametrize("fn, shape_a, shape_b", [row[1:] for row in SHARING_OPS], ids=[row[0] for row in SHARING_OPS])
def test_dot_grads_never_share_memory(fn, shape_a, shape_b, create_graph, device):
    a = mg.tensor(np.ones(shape_a), requires_grad=True, device=device)
    b = mg.tensor(np.full(shape_b, 2.0), requires_grad=True, device=device)
    fn(a, b).sum().backward(create_graph=create_graph)
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    _assert_private_writable(a.grad, b.grad)


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
@pytest.mark.parametrize("fn, shape_a, shape_b", [row[1:] for row in SHARING_OPS], ids=[row[0] for row in SHARING_OPS])
def test_grad_results_never_share_memory(fn, shape_a, shape_b, create_graph):
    a, b = leaf(np.ones(shape_a)), leaf(np.full(shape_b, 2.0))
    grad_a, grad_b = mg.grad(fn(a, b).sum(), [a, b], create_graph=create_graph)
    _assert_private_writable(grad_a, grad_b)


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
def test_dot_grad_never_shares_the_callers_grad(create_graph):
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g = mg.tensor([1.0, -1.0], dtype=mg.float64)
    (a + b).backward(g, create_graph=create_graph)
    _assert_private_writable(g, a.grad, b.grad)


def test_clip_grad_norm_after_a_create_graph_backward():
    """The reported failure: one read-only array shared by a.grad and b.grad made the
    in-place clipping raise "output array is read-only"."""
    from minigrad.optim import clip_grad_norm_

    a, b = leaf([3.0, 0.0]), leaf([0.0, 4.0])
    (a + b).sum().backward(create_graph=True)  # each gradient is [1, 1]: total norm 2
    assert clip_grad_norm_([a, b], 1.0) == pytest.approx(2.0)
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 0.5], rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), [0.5, 0.5], rtol=1e-5)


def test_create_graph_dot_grad_stays_differentiable():
    # y = sum(x^3): dy/dx = 3 x^2 stored in .grad with its graph; d/dx sum(3 x^2) = 6 x
    x = leaf([1.0, -2.0])
    (x * x * x).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, -12.0])


def _count_tensors_made(monkeypatch) -> list:
    """Patch Tensor._make (every Tensor an op or the engine makes goes through it) to
    count its calls; returns the list it appends to."""
    made = []
    make = mg.Tensor._make

    def counting_make(array, node=None, output_index=None):
        made.append(node)
        return make(array, node, output_index)

    monkeypatch.setattr(mg.Tensor, "_make", staticmethod(counting_make))
    return made


def _small_network(x, w, b):
    hidden = F.relu(F.linear(x, w, b)).tanh()
    return (hidden.logsumexp(axis=1) + mg.maximum(hidden, 0.1).sum(axis=1)).mean()


def test_plain_backward_makes_no_tensor_but_the_grads(device, monkeypatch):
    """Backward on arrays: in plain mode the formulas run on raw arrays, so the only
    Tensors the backward pass makes are the .grad it hands out, and it records nothing."""
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True, device=device)
    w = mg.tensor(rng.standard_normal((5, 3)), requires_grad=True, device=device)
    b = mg.tensor(rng.standard_normal(5), requires_grad=True, device=device)
    loss = _small_network(x, w, b)
    seed = mg.ones_like(loss)
    made = _count_tensors_made(monkeypatch)
    loss.backward(seed)
    assert made == [None, None, None]  # x.grad, w.grad, b.grad, none of them with a node
    assert all(t.grad is not None and t.grad.grad_fn is None for t in (x, w, b))


def test_create_graph_backward_records_the_same_formulas(monkeypatch):
    """The same rules, handed Tensors, record a graph: many Tensors with nodes, and the
    gradients equal the plain ones."""
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal(5)]
    plain = [mg.tensor(v, requires_grad=True) for v in values]
    _small_network(*plain).backward()
    recorded = [mg.tensor(v, requires_grad=True) for v in values]
    loss = _small_network(*recorded)
    made = _count_tensors_made(monkeypatch)
    loss.backward(create_graph=True)
    assert sum(node is not None for node in made) > 10
    for a, b in zip(plain, recorded):
        assert b.grad.requires_grad
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_backward_of_leaf_itself():
    x = leaf(2.0)
    x.backward()
    assert x.grad.item() == 1.0


def test_inputs_that_do_not_require_grad_get_nothing():
    x, c = leaf([1.0, 2.0]), mg.tensor([3.0, 4.0], dtype=mg.float64)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad.numpy(), c.numpy())


# -------------------------------------------------------------------------------------
# Released graphs


def test_second_backward_through_released_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    # d/dx (x e^x) = (1 + x) e^x, twice
    np.testing.assert_allclose(x.grad.numpy(), 2 * (1 + x.numpy()) * np.exp(x.numpy()))


def test_saved_arrays_are_freed_after_backward():
    x = leaf([1.0, 2.0])
    y = x * x
    node = y.grad_fn
    assert node._saved is not None
    y.sum().backward()
    assert node._saved is None

    y2 = x * x
    y2.sum().backward(retain_graph=True)
    assert y2.grad_fn._saved is not None


@needs_torch
def test_second_backward_through_ops_that_saved_nothing_works_as_torch():
    x = leaf([1.0, 2.0])
    y = (x + x).sum()
    y.backward()
    y.backward()  # Add and Sum keep nothing: PyTorch allows this too

    xt = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    yt = (xt + xt).sum()
    yt.backward()
    yt.backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


# -------------------------------------------------------------------------------------
# Hooks and retain_grad


def test_hook_is_called_with_the_gradient():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    (h * h).sum().backward()
    # d(h^2)/dh = 2h
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2 * h.numpy())


def test_hook_returning_a_tensor_replaces_the_gradient():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    h.register_hook(lambda g: g * 0.0 + 1.0)  # pretend dL/dh = 1
    (h * h).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_hook_on_leaf_changes_what_accumulates():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 2.0)
    (x * 5.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [10.0, 10.0])


def test_hook_handle_remove():
    x = leaf([1.0, 2.0])
    calls = []
    handle = x.register_hook(lambda g: calls.append(1))
    x.sum().backward()
    handle.remove()
    x.sum().backward()
    assert calls == [1]


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).register_hook(lambda g: g)


def test_non_leaf_grad_stays_none_unless_retained():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    kept = x * 3.0
    kept.retain_grad()
    (h * kept).sum().backward()
    assert h.grad is None
    # d(h * k)/dk = h
    np.testing.assert_allclose(kept.grad.numpy(), h.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * x.numpy() + 3 * 2 * x.numpy())


# -------------------------------------------------------------------------------------
# Grad mode


def test_no_grad_context_manager():
    x = leaf([1.0])
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * 2.0
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_and_enable_grad_as_decorators():
    x = leaf([1.0])

    @mg.no_grad()
    def frozen(t):
        return t * 2.0, mg.is_grad_enabled()

    @mg.enable_grad()
    def recorded(t):
        return t * 2.0

    y, enabled = frozen(x)
    assert not enabled and not y.requires_grad
    with mg.no_grad():
        z = recorded(x)
        assert not mg.is_grad_enabled()
    assert z.requires_grad and z.grad_fn is not None
    assert frozen.__name__ == "frozen"


def test_decorators_without_parentheses_as_pytorch():
    @mg.no_grad
    def frozen(t):
        return t * 2.0

    @mg.enable_grad
    def recorded(t):
        return t * 2.0

    x = leaf([1.0])
    assert not frozen(x).requires_grad
    with mg.no_grad():
        assert recorded(x).requires_grad
    assert frozen.__name__ == "frozen"


def test_set_grad_enabled():
    with mg.set_grad_enabled(False):
        assert not mg.is_grad_enabled()
        with mg.set_grad_enabled(True):
            assert mg.is_grad_enabled()
    assert mg.is_grad_enabled()


def test_grad_mode_nests_and_restores_on_error():
    with mg.no_grad():
        with mg.enable_grad():
            assert mg.is_grad_enabled()
            with mg.no_grad():
                assert not mg.is_grad_enabled()
            assert mg.is_grad_enabled()
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    with pytest.raises(KeyError), mg.no_grad():
        raise KeyError("boom")
    assert mg.is_grad_enabled()


def test_recursive_no_grad_decorator():
    @mg.no_grad()
    def depth(n):
        assert not mg.is_grad_enabled()
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(5) == 5
    assert mg.is_grad_enabled()


def test_grad_mode_is_thread_local():
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        with mg.no_grad():
            seen["worker"] = mg.is_grad_enabled()
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert inside.wait(5)
        # the worker is inside no_grad right now; this thread still records
        assert mg.is_grad_enabled()
        y = leaf([1.0]) * 2.0
        assert y.requires_grad
    finally:
        release.set()
        thread.join()
    assert seen["worker"] is False


def test_ops_under_no_grad_have_no_node():
    x = leaf(np.ones((2, 3)))
    with mg.no_grad():
        for y in (x + 1.0, x.sum(), x @ x.T, x[0], x.exp(), mg.cat([x, x]), x.reshape(-1)):
            assert not y.requires_grad
            assert y.grad_fn is None and y.is_leaf


def test_detach_cuts_the_graph():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    d = h.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.data, h.data)
    # y = x * detach(3x): the detached factor is a constant, dy/dx = 3x
    (x * d).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy())


# -------------------------------------------------------------------------------------
# minigrad.grad and higher-order gradients


def test_grad_returns_gradients_without_touching_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, -1.0])
    y = (x * w).sum()
    gx, gw = mg.grad(y, [x, w])
    np.testing.assert_allclose(gx.numpy(), w.numpy())
    np.testing.assert_allclose(gw.numpy(), x.numpy())
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad  # no create_graph: plain values


def test_grad_of_intermediate_and_grad_outputs():
    x = leaf([1.0, 2.0, 3.0])
    h = x * x
    y = h * 2.0
    v = mg.tensor([1.0, 0.5, -1.0], dtype=mg.float64)
    (gh,) = mg.grad(y, [h], grad_outputs=v)
    np.testing.assert_allclose(gh.numpy(), 2 * v.numpy())


def test_grad_with_several_outputs_sums_them():
    x = leaf([1.0, 2.0])
    y1, y2 = (x * x).sum(), (x * 3.0).sum()
    (gx,) = mg.grad([y1, y2], [x])
    np.testing.assert_allclose(gx.numpy(), 2 * x.numpy() + 3)


def test_grad_errors():
    x = leaf([1.0, 2.0])
    unrelated = leaf([1.0])
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="not part of the graph"):
        mg.grad(y, [x, unrelated], retain_graph=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.grad(y, [mg.tensor([1.0])])
    with pytest.raises(RuntimeError, match="implicitly created only for scalar"):
        mg.grad(x * 2.0, [x])


def test_hessian_vector_product_equals_analytic():
    # f(x) = sum(x^3) + x0 * x1 ; H = diag(6x) + [[0, 1], [1, 0]] on the first two entries
    xs = np.array([1.0, -2.0, 0.5])
    x = leaf(xs)
    v = np.array([0.3, -1.0, 2.0])
    f = (x**3).sum() + x[0] * x[1]
    (g,) = mg.grad(f, [x], create_graph=True)
    assert g.requires_grad
    (hv,) = mg.grad((g * mg.tensor(v)).sum(), [x])
    hessian = np.diag(6 * xs)
    hessian[0, 1] = hessian[1, 0] = 1.0
    np.testing.assert_allclose(hv.numpy(), hessian @ v)


def test_newton_iteration_finds_root_of_cubic():
    # Newton on f(x) = x^3 - 2x, using f'(x) from minigrad.grad; from x=2 it converges to sqrt(2)
    x = leaf(2.0)
    for _ in range(8):
        f = x**3 - 2.0 * x
        (df,) = mg.grad(f, [x])
        np.testing.assert_allclose(df.item(), 3 * x.item() ** 2 - 2)
        x = leaf(x.item() - f.item() / df.item())
    np.testing.assert_allclose(x.item(), np.sqrt(2.0), rtol=1e-12)


def test_newton_minimization_step_uses_second_derivative():
    # minimise g(x) = x^4/4 - x^2 (g' = x^3 - 2x, g'' = 3x^2 - 2): the Newton step on g'
    x = leaf(1.5)
    g = x**4 / 4.0 - x**2
    (d1,) = mg.grad(g, [x], create_graph=True)
    (d2,) = mg.grad(d1, [x])
    np.testing.assert_allclose(d1.item(), 1.5**3 - 3.0)
    np.testing.assert_allclose(d2.item(), 3 * 1.5**2 - 2)


def test_backward_create_graph_then_gradient_of_gradient():
    x = leaf([0.5, -1.0])
    y = x.tanh().sum()
    y.backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    # d/dx tanh = 1 - tanh^2;  d^2/dx^2 = -2 tanh (1 - tanh^2)
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(first.numpy(), 1 - t**2)
    (second,) = mg.grad(first.sum(), [x])
    np.testing.assert_allclose(second.numpy(), -2 * t * (1 - t**2))


@needs_torch
def test_third_derivative_matches_torch():
    xs = np.array([0.3, -0.7, 1.2])
    x = leaf(xs)
    xt = torch.tensor(xs, requires_grad=True)
    ours, theirs = (x.sigmoid() * x).sum(), (xt.sigmoid() * xt).sum()
    for _ in range(3):
        (gx,) = mg.grad(ours, [x], create_graph=True)
        (gt,) = torch.autograd.grad(theirs, [xt], create_graph=True)
        np.testing.assert_allclose(gx.numpy(), gt.detach().numpy(), rtol=1e-10)
        ours, theirs = gx.sum(), gt.sum()


# -------------------------------------------------------------------------------------
# Deep graphs and memory


def test_chain_of_100k_ops_without_recursion_error():
    # 50,000 multiplications by c and 50,000 additions: dy/dx = c^50000
    c = 1.00001
    x = leaf(1.0)
    y = x
    start = time.perf_counter()
    for i in range(100_000):
        y = y * c if i % 2 == 0 else y + 1.0
    built = time.perf_counter()
    y.backward()
    took = time.perf_counter() - built
    np.testing.assert_allclose(x.grad.item(), c**50_000, rtol=1e-9)
    assert took < 30, f"backward of 100k ops took {took:.1f} s (building took {built - start:.1f} s)"
    del y  # freeing a 100k-deep graph must not overflow the C stack either


def test_dropped_graph_is_freed_by_reference_counting():
    gc.collect()
    gc.disable()
    try:
        x = leaf(np.ones((3, 3)))
        h = (x * 2.0).exp()
        y = (h @ h).sum()
        h_ref, node_ref, y_node_ref = weakref.ref(h), weakref.ref(h.grad_fn), weakref.ref(y.grad_fn)
        del h, y
        assert h_ref() is None and node_ref() is None and y_node_ref() is None
        # also after a backward (which makes Tensors of saved outputs) and with retain_graph
        h = (x * 2.0).exp()
        y = (h * h).sum()
        y.backward(retain_graph=True)
        h_ref, node_ref = weakref.ref(h), weakref.ref(h.grad_fn)
        del h, y
        assert h_ref() is None and node_ref() is None
    finally:
        gc.enable()


def test_graph_lives_as_long_as_its_output():
    """The output owns its graph: deleting only intermediates must not break backward."""
    x = leaf([1.0, 2.0])
    h = x.exp()
    y = (h * 3.0).sum()
    del h
    gc.collect()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp(x.numpy()))


# -------------------------------------------------------------------------------------
# Bad calls


def test_non_scalar_backward_without_grad_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*\(2,\)"):
        (x * 2.0).backward()


def test_non_scalar_backward_with_grad():
    x = leaf([1.0, 2.0])
    (x * x).backward(mg.tensor([1.0, 10.0], dtype=mg.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 40.0])


def test_backward_with_wrong_grad_shape_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 2.0).backward(mg.ones(3, dtype=mg.float64))


def test_backward_on_tensor_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).sum().backward()


@pytest.mark.parametrize("data", [[1, 2], [True, False]], ids=["int", "bool"])
def test_integer_and_bool_tensors_cannot_require_grad(data):
    with pytest.raises(TypeError, match="floating point"):
        mg.tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match="floating point"):
        mg.zeros(2, dtype=mg.int64, requires_grad=True)
    with pytest.raises(TypeError, match="floating point"):
        mg.tensor(data).requires_grad_()


# -------------------------------------------------------------------------------------
# Ops with several outputs (split, unbind): one gradient slot per output


def test_several_outputs_hooks_retain_grad_and_unused_pieces():
    x = leaf(np.arange(8.0).reshape(4, 2))
    a, b, c, _unused = mg.unbind(x)
    b.retain_grad()
    seen = []
    c.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10.0)
    (a * 1.0 + b * 2.0 + c * 3.0 + a).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[2, 2], [2, 2], [30, 30], [0, 0]])
    np.testing.assert_allclose(b.grad.numpy(), [2, 2])
    np.testing.assert_allclose(seen[0], [3, 3])
    assert a.grad is None  # a non-leaf without retain_grad


def test_grad_with_respect_to_pieces():
    x = leaf(np.arange(6.0).reshape(3, 2))
    a, b, c = mg.split(x, 3)
    ga, gc = mg.grad((a * 2.0 + c * c).sum(), [a, c])
    np.testing.assert_allclose(ga.numpy(), [[2, 2]])
    np.testing.assert_allclose(gc.numpy(), 2 * x.numpy()[2:])
    with pytest.raises(RuntimeError, match="not part of the graph"):
        mg.grad((a * 2.0).sum(), [b])


def test_several_outputs_without_grad_mode_record_nothing():
    x = leaf(np.ones((2, 3)))
    with mg.no_grad():
        pieces = mg.unbind(x, axis=1)
    assert len(pieces) == 3 and not any(p.requires_grad for p in pieces)


def test_anomaly_names_an_op_with_several_outputs():
    x = leaf([1.0, np.nan, 2.0, 3.0])
    with mg.detect_anomaly(), pytest.raises(FloatingPointError, match="Split"):
        mg.split(x, 2)
