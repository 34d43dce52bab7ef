"""Reverse-mode automatic differentiation: the Function contract and the backward engine.

Every differentiable operation is a subclass of ``Function`` with two methods:

* ``forward(self, *arrays, **options) -> array`` computes the result on raw backend
  arrays (NumPy or CuPy) and may call ``self.save_for_backward(...)`` with the arrays
  its backward will need.
* ``backward(self, grad) -> gradient per input`` receives dL/d(output) as a Tensor and
  returns dL/d(input) for each input (a Tensor, or None for "no gradient"), written
  with Tensor operations. Because backward is made of Tensor ops, running it in grad
  mode records a new graph: that is all it takes for gradients of gradients.

``Function.apply`` runs forward and, if grad mode is on and some input requires a
gradient, remembers on the output how it was made (a node of the graph).

The engine (``backward``) walks that graph from the output to the leaves without
recursion, using Kahn's algorithm: a node runs once every node that consumes its
output has handed back its share of the gradient. Broadcasting is undone in one place
(``sum_to`` below), not in every op.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import traceback
import weakref

from . import tensor as _tensor  # circular on purpose: Tensor wraps Function outputs

# ---------------------------------------------------------------------------------
# Grad mode and anomaly mode: per thread, like PyTorch, so a data-loading thread
# under no_grad does not switch off recording in the training thread.

class _Mode(threading.local):
    """Each thread starts with these class values and keeps its own changes."""

    grad_enabled = True
    anomaly = False


_mode = _Mode()


def is_grad_enabled() -> bool:
    return _mode.grad_enabled


def _set_grad_enabled(enabled: bool) -> None:
    _mode.grad_enabled = enabled


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode and restores it on exit."""

    enabled = True

    def __new__(cls, *args):
        # `@no_grad` without parentheses (PyTorch 2 allows it): decorate at once
        if len(args) == 1 and callable(args[0]):
            return cls()(args[0])
        return super().__new__(cls)

    def __enter__(self):
        self._previous = is_grad_enabled()
        _set_grad_enabled(self.enabled)
        return self

    def __exit__(self, *exc_info):
        _set_grad_enabled(self._previous)
        return False

    def __call__(self, fn):
        # a fresh instance per call, so one decorator can be re-entered (recursion,
        # threads) without sharing `_previous`
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Do not record operations: results do not require grad. Saves memory and time."""

    enabled = False


class enable_grad(_GradMode):
    """Record operations again inside a ``no_grad`` region."""

    enabled = True


class set_grad_enabled(_GradMode):
    def __init__(self, enabled: bool):
        self.enabled = bool(enabled)

    def __call__(self, fn):
        enabled = self.enabled

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(enabled):
                return fn(*args, **kwargs)

        return wrapper


def is_anomaly_enabled() -> bool:
    return _mode.anomaly


@contextlib.contextmanager
def detect_anomaly():
    """Raise FloatingPointError at the first op whose forward or backward gives NaN/inf.

    The error names the op and the file:line of the user code that created it. This
    costs a finiteness check per op and a stack walk per node, so it is off by default.
    """
    previous = is_anomaly_enabled()
    _mode.anomaly = True
    try:
        yield
    finally:
        _mode.anomaly = previous


# with the separator, so that a user folder like "minigrad_lessons/" is not taken for ours
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_frame() -> str:
    """file:line of the innermost caller outside the minigrad package."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno}"
    return "<unknown>"


def _check_finite(array, what: str, fn: Function) -> None:
    from .backend import get_array_module

    xp = get_array_module(array)
    if array.dtype.kind in "fc" and not bool(xp.isfinite(array).all()):
        raise FloatingPointError(
            f"{what} of {type(fn).__name__} produced NaN or inf; "
            f"the op was created at {fn.created_at or '<unknown: not under detect_anomaly()>'}"
        )


# ---------------------------------------------------------------------------------
# Function: one node of the graph.


class Function:
    """A differentiable operation; see the module docstring for the contract.

    After ``apply`` a node holds:
      edges       for each input: where its gradient goes (the input's node, the input
                  itself if it is a leaf, or None if it needs no gradient), with the
                  input's shape and dtype, so the engine can undo broadcasting, and
                  which output of that node the input was (None: its only output);
      output_ref  a weak reference to the output Tensor (for its hooks, retain_grad);
      _saved      what ``save_for_backward`` kept; freed after backward.

    A forward may also return a tuple of arrays (``split``, ``unbind``): the op then has
    ``num_outputs`` outputs, ``output_refs`` holds a weak reference to each, and its
    backward receives one gradient per output, ``backward(*grads)``, with None for an
    output that got no gradient. (Such an op must not save its outputs.)
    """

    created_at = None  # "file:line" of user code, recorded under detect_anomaly()
    _to_save = ()  # what forward passed to save_for_backward
    num_outputs = 1

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    def save_for_backward(self, *arrays) -> None:
        self._to_save = arrays

    def needs_grad(self, i: int) -> bool:
        """Does input ``i`` want a gradient? Lets backward skip work nobody uses."""
        return self.edges[i][0] is not None

    @property
    def saved_tensors(self) -> tuple:
        """The saved arrays as Tensors. An input comes back as the input Tensor itself
        and the output as a Tensor made by this node, so that a backward written with
        them is itself differentiable (create_graph=True); anything else is a constant."""
        if self._saved is None:
            raise RuntimeError(
                f"Trying to backward through {type(self).__name__} a second time, but its "
                "saved arrays were freed after the first backward. Pass "
                "retain_graph=True to the first backward() if you need to go through "
                "the graph twice."
            )
        Tensor = _tensor.Tensor
        return tuple(
            item if isinstance(item, Tensor) else Tensor._make(item[1], node=self if item[0] else None)
            for item in self._saved
        )

    def release(self) -> None:
        """Free the saved arrays (the graph's edges stay, as in PyTorch)."""
        self._saved = None

    @classmethod
    def apply(cls, *inputs, **options):
        Tensor = _tensor.Tensor
        # This method runs for every op, forward and backward: the conversion and the
        # device checks run only when they can matter. On a chain of scalar ops that
        # took the engine from 13,500 to 22,000 ops/s (benchmarks/run.py).
        if not all(isinstance(t, Tensor) for t in inputs):  # operators convert first
            inputs = _tensor.as_tensors(inputs)
        _tensor.check_same_device(inputs, cls.__name__)
        fn = cls()
        anomaly = _mode.anomaly
        if anomaly:
            fn.created_at = _user_frame()
        output = fn.forward(*[t.data for t in inputs], **options)
        several = isinstance(output, tuple)
        if anomaly:
            for array in output if several else (output,):
                _check_finite(array, "forward", fn)
        if not (_mode.grad_enabled and any(t.requires_grad for t in inputs)):
            return tuple(map(Tensor._make, output)) if several else Tensor._make(output)

        fn.edges = [((t._node or t) if t.requires_grad else None, t.shape, t.dtype, t._output_index)
                    for t in inputs]
        fn._saved = [_saved_item(array, inputs, output) for array in fn._to_save]
        fn._to_save = ()  # _saved now holds what backward needs
        if several:
            fn.num_outputs = len(output)
            results = tuple(Tensor._make(array, fn, i) for i, array in enumerate(output))
            fn.output_refs = [weakref.ref(r) for r in results]
            fn.output_ref = fn.output_refs[0]
            return results
        result = Tensor._make(output, node=fn)
        fn.output_ref = weakref.ref(result)  # weak: the output owns its node, not back
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__} backward>"


def _saved_item(array, tensors, output):
    """An input Tensor, or (is_output, array)."""
    for t in tensors:
        if array is t.data:
            return t
    return (array is output, array)


# ---------------------------------------------------------------------------------
# The backward engine.


def _vertex(t):
    """Where a tensor's gradient collects: its node, or the tensor itself for a leaf."""
    return t._node if t._node is not None else t


def run_backward(outputs, output_grads, retain_graph=False, create_graph=False, inputs=None):
    """Backpropagate ``output_grads`` from ``outputs`` through the graph.

    With ``inputs=None`` gradients are accumulated into the ``.grad`` of leaves (and of
    tensors that called ``retain_grad()``). Otherwise nothing is written and the
    gradients of ``inputs`` are returned in a list (None where unreachable).

    1. Count, for every vertex, how many graph edges point at it (its consumers).
    2. Start from the outputs; pop a vertex whose consumers have all reported, call its
       node's backward, hand each input its share, and decrement that input's count.
    A list used as a stack and a dict of counts: no recursion, so a 100,000-op chain is
    fine. Each vertex is processed exactly once, after all its gradient has arrived.
    """
    pending = {}  # id(vertex) -> number of consumers that have not reported yet
    stack = [_vertex(t) for t in outputs]
    seen = {id(v) for v in stack}
    while stack:
        vertex = stack.pop()
        if isinstance(vertex, Function):
            for edge in vertex.edges:
                source = edge[0]
                if source is None:
                    continue
                pending[id(source)] = pending.get(id(source), 0) + 1
                if id(source) not in seen:
                    seen.add(id(source))
                    stack.append(source)

    # id(vertex) -> gradient Tensor summed so far; for a node with several outputs, a
    # list with one such sum (or None) per output
    grads = {}
    for t, g in zip(outputs, output_grads):
        _collect(grads, _vertex(t), t._output_index, g)

    visible = {id(g.data) for g in output_grads}  # the caller's arrays (see _private)
    wanted = None if inputs is None else {(id(_vertex(t)), t._output_index): i for i, t in enumerate(inputs)}
    results = [None] * (0 if inputs is None else len(inputs))
    ready = list({id(v): v for v in map(_vertex, outputs) if pending.get(id(v), 0) == 0}.values())
    anomaly = is_anomaly_enabled()

    with set_grad_enabled(create_graph):
        while ready:
            vertex = ready.pop()
            grad = grads.pop(id(vertex), None)
            if isinstance(vertex, Function):
                input_grads = ()
                if grad is not None:
                    grad = _visit_outputs(vertex, grad, inputs is None, visible)
                    input_grads = _node_backward(vertex, grad, anomaly)
                if not retain_graph:
                    vertex.release()
                for i, (edge, shape, dtype, index) in enumerate(vertex.edges):
                    if edge is None:
                        continue
                    key = id(edge)
                    g = input_grads[i] if i < len(input_grads) else None
                    if g is not None:
                        if g.shape != shape or g.dtype != dtype:
                            g = _match(g, shape, dtype)
                        if index is None:  # the common case, inlined: _collect does the same
                            grads[key] = grads[key] + g if key in grads else g
                        else:
                            _collect(grads, edge, index, g)
                    pending[key] -= 1
                    if not pending[key]:
                        ready.append(edge)
            elif grad is not None:  # a leaf
                grad = _visit_tensor(vertex, grad, inputs is None, visible)
            if wanted is not None and grad is not None:
                pieces = enumerate(grad) if isinstance(grad, list) else [(None, grad)]
                for index, g in pieces:
                    position = wanted.get((id(vertex), index))
                    if position is not None and g is not None:
                        results[position] = _private(g, visible)
    return results


def _collect(grads, vertex, index, g) -> None:
    """Add ``g`` to the gradient ``vertex`` has received so far (for its output ``index``
    if it is a node with several outputs, else ``index`` is None)."""
    key = id(vertex)
    if index is None:
        grads[key] = grads[key] + g if key in grads else g
        return
    pieces = grads.setdefault(key, [None] * vertex.num_outputs)
    pieces[index] = g if pieces[index] is None else pieces[index] + g


def _visit_outputs(fn, grad, accumulate, visible):
    """Hooks and retain_grad of the node's output(s), on their total gradients."""
    if fn.num_outputs == 1:
        output = fn.output_ref()
        if output is not None and (output._hooks or output._retains_grad):
            grad = _visit_tensor(output, grad, accumulate, visible)
        return grad
    return [g if g is None else _visit_tensor(ref(), g, accumulate, visible)
            for ref, g in zip(fn.output_refs, grad)]


def _node_backward(fn, grad, anomaly):
    """``fn.backward`` on the output gradient (one per output if there are several)."""
    grads = grad if fn.num_outputs > 1 else (grad,)
    if anomaly:
        # Judge what this node's backward returns, as PyTorch does. Checking each op inside
        # the formula would blame them instead (Sqrt's inf at 0 comes from a division
        # there, which would be reported as "Div, created at the backward() call").
        _mode.anomaly = False
        try:
            input_grads = fn.backward(*grads)
        finally:
            _mode.anomaly = True
    else:
        input_grads = fn.backward(*grads)
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    if anomaly:
        for g in input_grads:
            if g is not None:
                _check_finite(g.data, "backward", fn)
    return input_grads


def _visit_tensor(tensor, grad, accumulate, visible):
    """Run a tensor's hooks on its total gradient; store it in .grad if asked to."""
    if tensor is None:  # the output Tensor was dropped by the user: no hooks to run
        return grad
    for hook in list(tensor._hooks.values()):
        visible.add(id(grad.data))  # a hook may keep what it is shown
        replaced = hook(grad)
        if replaced is not None:
            grad = replaced
            visible.add(id(grad.data))  # or what it returns
    if accumulate and (tensor._node is None or tensor._retains_grad):
        # a sum is a new array (recorded only under create_graph)
        tensor.grad = _private(grad, visible) if tensor.grad is None else tensor.grad + grad
    return grad


def _private(grad, visible: set):
    """``grad`` as the engine hands it out, in ``.grad`` or as a result of ``grad()``: in
    memory that no other gradient shares, and writable. Optimizers and clipping change
    ``.grad`` in place, and backward rules share arrays freely (Add gives the same one
    to both inputs, sum gives a read-only broadcast view), so this is checked here, at
    the engine's only exit, in both modes.

    Under create_graph=True the gradient is always copied, with a recorded op so that
    it stays differentiable (the recorded backward may have saved the original); as
    PyTorch's AccumulateGrad. Otherwise the array is kept when it owns its memory, is
    writable, and is not ``visible`` (the ids of the arrays already handed out in this
    backward, the caller's ``grad=``, what a hook saw); any other is copied. Keeping
    saved 0.4 ms of the 5.8 ms mlp step (benchmarks/).
    """
    if is_grad_enabled():
        from .ops.elementwise import copy

        return copy(grad)
    array = grad.data
    flags = array.flags
    # CuPy's flags have no "writeable": its arrays always are
    if id(array) in visible or not flags.owndata or not getattr(flags, "writeable", True):
        array = array.copy()
    visible.add(id(array))
    return _tensor.Tensor._make(array)


def _match(grad, shape, dtype):
    """Bring an input's gradient back to the input's shape and dtype.

    Broadcasting copied the input along some axes, so its gradient is the sum of the
    gradients of all copies: ``sum_to`` adds them up. This is the one place where
    broadcasting is undone; no op has to think about it.
    """
    if grad.shape != shape:
        grad = sum_to(grad, shape)
    if grad.dtype != dtype:
        grad = grad.astype(dtype)
    return grad


def sum_to(t, shape):
    from .ops.shape import sum_to as _sum_to

    return _sum_to(t, shape)


def backward(tensor, grad=None, retain_graph=None, create_graph=False) -> None:
    """``tensor.backward()``: accumulate d(tensor)/d(leaf) into every leaf's ``.grad``."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn: "
            "nothing to backpropagate (did you create it under no_grad, or forget "
            "requires_grad=True?)"
        )
    grad = _default_grad(tensor, grad)
    if retain_graph is None:
        retain_graph = create_graph
    run_backward([tensor], [grad], retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False):
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    As ``torch.autograd.grad``: returns a list with one Tensor per input. With
    ``create_graph=True`` the results are differentiable again.
    """
    Tensor = _tensor.Tensor
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single_input = isinstance(inputs, Tensor)
    inputs = [inputs] if single_input else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"input {i} of grad() does not require grad")
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(f"output {i} of grad() does not require grad and has no graph")
    grad_outputs = [_default_grad(t, g) for t, g in zip(outputs, grad_outputs)]
    if retain_graph is None:
        retain_graph = create_graph
    results = run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=inputs)
    for i, r in enumerate(results):
        if r is None:
            raise RuntimeError(
                f"input {i} of grad() is not part of the graph of the outputs "
                "(no path from it to them)"
            )
    return results


def _default_grad(tensor, grad):
    Tensor = _tensor.Tensor
    if grad is None:
        if tensor.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs, but the output "
                f"has shape {tensor.shape}; pass grad= (a Tensor of that shape)"
            )
        return Tensor._make(_tensor.ones_like(tensor).data)
    grad = grad if isinstance(grad, Tensor) else _tensor.tensor(grad, dtype=tensor.dtype, device=tensor.device)
    if grad.shape != tensor.shape:
        raise ValueError(f"grad has shape {grad.shape} but the output has shape {tensor.shape}")
    return grad
