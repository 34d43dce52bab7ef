"""The backward engine: walk the graph from the output to the leaves, once, without recursion.

``backward(loss)`` and ``grad(outputs, inputs)`` both come here, to ``run_backward``:

1. Count, for every vertex (a node, or a leaf Tensor), how many graph edges point at
   it: how many consumers will hand it a share of its gradient.
2. Start from the outputs. Pop a vertex whose consumers have all reported, call its
   node's backward on the summed gradient, hand each input its share (undoing
   broadcasting in one place, ``_match``), and count that input's consumer as done.

That is Kahn's algorithm: each vertex runs exactly once, after all of its gradient has
arrived; a list used as a stack and a dict of counts replace recursion, so a chain of
100,000 ops is fine.

In plain mode gradients travel as raw arrays (see function.py) and become Tensors only
where the user sees them: in ``.grad``, in ``grad()``'s results, in a hook. With
``create_graph=True`` they are Tensors throughout, and the walk is recorded.
"""

from __future__ import annotations

from .. import backend
from .. import tensor as _tensor
from .function import Function
from .grad_mode import _anomaly_paused, _mode, check_finite, set_grad_enabled


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
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
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


def run_backward(outputs, output_grads, retain_graph=False, create_graph=False, inputs=None):
    """Backpropagate ``output_grads`` (Tensors) from ``outputs`` through the graph.

    With ``inputs=None`` gradients are accumulated into the ``.grad`` of leaves (and of
    tensors that called ``retain_grad()``). Otherwise nothing is written and the
    gradients of ``inputs`` are returned in a list (None where unreachable).
    """
    pending = _count_consumers(outputs)
    grads = {}  # id(vertex) -> its gradient so far (a list, one per output, for several)
    for t, g in zip(outputs, output_grads):
        _collect(grads, _vertex(t), t._output_index, g if create_graph else g.data)
    visible = {id(g.data) for g in output_grads}  # arrays that are not ours (see _hand_out)
    wanted = None if inputs is None else {(id(_vertex(t)), t._output_index): i for i, t in enumerate(inputs)}
    results = [None] * (0 if inputs is None else len(inputs))
    ready = list({id(v): v for v in map(_vertex, outputs) if not pending.get(id(v))}.values())

    with set_grad_enabled(create_graph):  # the mode the backward formulas run in
        while ready:
            vertex = ready.pop()
            grad = grads.pop(id(vertex), None)
            if isinstance(vertex, Function):
                input_grads = ()
                if grad is not None:
                    if vertex.outputs_watched:
                        grad = _visit_outputs(vertex, grad, inputs is None, visible)
                    input_grads = _node_backward(vertex, grad)
                if not retain_graph:
                    vertex.release()
                for (source, shape, dtype, index), g in zip(vertex.edges, input_grads):
                    if source is None:
                        continue
                    if g is not None:
                        if g.shape != shape or g.dtype != dtype:  # checked here: it rarely differs
                            g = _match(g, shape, dtype)
                        _collect(grads, source, index, g)
                    pending[id(source)] -= 1
                    if not pending[id(source)]:
                        ready.append(source)
            elif grad is not None:  # a leaf
                grad = _visit_tensor(vertex, grad, inputs is None, visible)
            if wanted is not None and grad is not None:
                _take_results(vertex, grad, wanted, results, visible)
    return results


# ---------------------------------------------------------------------------------
# The steps of the walk, in the order it takes them.


def _vertex(t):
    """Where a tensor's gradient collects: its node, or the tensor itself for a leaf."""
    return t._node if t._node is not None else t


def _count_consumers(outputs) -> dict:
    """id(vertex) -> how many edges of the graph behind ``outputs`` point at it."""
    pending = {}
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
    return pending


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


def _node_backward(fn, grad) -> tuple:
    """``fn.backward`` on the output gradient (one per output if there are several):
    one gradient per input, None where there is none (a backward may leave trailing
    ones out)."""
    grads = grad if fn.num_outputs > 1 else (grad,)
    if not _mode.anomaly:
        input_grads = fn.backward(*grads)
    else:
        # Judge what this node's backward returns, as PyTorch does. Checking each op
        # inside the formula would blame them instead (Sqrt's inf at 0 comes from a
        # division there, which would be reported as "Div, created at the backward() call").
        with _anomaly_paused():
            input_grads = fn.backward(*grads)
        for g in input_grads if isinstance(input_grads, tuple) else (input_grads,):
            if g is not None:
                check_finite(_array(g), "backward", fn)
    if not isinstance(input_grads, tuple):
        input_grads = (input_grads,)
    missing = len(fn.edges) - len(input_grads)
    return input_grads + (None,) * missing if missing > 0 else input_grads


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


def sum_to(grad, shape):
    """``grad`` summed down to ``shape`` (ops/shape.py); raw in, raw out."""
    from ..ops.shape import sum_to as _sum_to

    return _sum_to(grad, shape)


def _visit_tensor(tensor, grad, accumulate, visible):
    """Run a tensor's hooks on its total gradient; store it in .grad if asked to."""
    if tensor is None:  # the output Tensor was dropped by the user: no hooks to run
        return grad
    for hook in list(tensor._hooks.values()):
        shown = _as_tensor(grad)
        visible.add(id(shown.data))  # a hook may keep what it is shown
        replaced = hook(shown)
        if replaced is not None:
            visible.add(id(replaced.data))  # or what it returns
            grad = replaced if _mode.grad_enabled else replaced.data
    if accumulate and (tensor._node is None or tensor._retains_grad):
        if tensor.grad is None:
            tensor.grad = _hand_out(grad, visible)
        else:  # a new array (recorded only under create_graph)
            tensor.grad = tensor.grad + _as_tensor(grad)
    return grad


def _take_results(vertex, grad, wanted: dict, results: list, visible) -> None:
    """Put the gradients of ``grad()``'s inputs, when this vertex holds them, in ``results``."""
    pieces = enumerate(grad) if isinstance(grad, list) else [(None, grad)]
    for index, g in pieces:
        position = wanted.get((id(vertex), index))
        if position is not None and g is not None:
            results[position] = _hand_out(g, visible)


def _hand_out(grad, visible: set):
    """``grad`` as a Tensor the user may keep, in ``.grad`` or as a result of ``grad()``:
    in memory that no other gradient shares, and writable. Optimizers and clipping change
    ``.grad`` in place, and backward rules share arrays freely (Add gives the same one to
    both inputs, sum gives a read-only broadcast view), so this is checked here, at the
    engine's only exit, in both modes.

    Under create_graph=True the gradient is always copied, with a recorded op so that it
    stays differentiable (the recorded backward may have saved the original), as
    PyTorch's AccumulateGrad. Otherwise the array is kept when it owns its memory, is
    writable, and is not ``visible`` (the ids of the arrays already handed out in this
    backward, the caller's ``grad=``, what a hook saw); any other is copied. Keeping
    saved 0.4 ms of the 5.8 ms mlp step (benchmarks/).
    """
    if _mode.grad_enabled:
        from ..ops.elementwise import copy

        return copy(grad)
    array = grad  # may be a NumPy scalar (a full reduction's): copied, then made an array
    flags = array.flags
    # CuPy's flags have no "writeable": its arrays always are
    if id(array) in visible or not flags.owndata or not getattr(flags, "writeable", True):
        array = array.copy()
    visible.add(id(array))
    return _tensor.Tensor._make(array)


def _as_tensor(grad):
    """A gradient as the user sees it: a Tensor (plain mode carries raw arrays)."""
    return grad if isinstance(grad, _tensor.Tensor) else _tensor.Tensor._make(grad)


def _array(grad):
    """The array of a gradient, in either mode."""
    return grad.data if isinstance(grad, _tensor.Tensor) else grad


def _default_grad(tensor, grad):
    """The gradient backward starts from: ``grad`` checked, or 1 for a scalar."""
    Tensor = _tensor.Tensor
    if grad is None:
        if tensor.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs, but the output "
                f"has shape {tensor.shape}; pass grad= (a Tensor of that shape)"
            )
        return Tensor._make(backend.get_array_module(tensor.data).ones_like(tensor.data))
    grad = grad if isinstance(grad, Tensor) else Tensor(grad, dtype=tensor.dtype, device=tensor.device)
    if grad.shape != tensor.shape:
        raise ValueError(f"grad has shape {grad.shape} but the output has shape {tensor.shape}")
    return grad
