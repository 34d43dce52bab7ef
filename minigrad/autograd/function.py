"""Function: the contract of every differentiable operation, and how it records the graph.

An op is a subclass of ``Function`` with two methods, side by side:

* ``forward(self, *arrays, **options) -> array`` computes the result on raw backend
  arrays (NumPy or CuPy) and may call ``self.save_for_backward(...)`` with the arrays
  its backward will need.
* ``backward(self, grad) -> one gradient per input`` receives dL/d(output) and returns
  dL/d(input) for each input (None for "no gradient").

**One rule, two modes.** A backward is written once, with operators (``grad * y``),
the array methods that NumPy, CuPy and Tensor share (``.sum(axis, keepdims)``,
``.reshape``, ``.T``, ``.astype``) and minigrad's op functions (``exp``, ``where``,
``sum_to``, ...). The engine runs it in one of two modes:

* plain ``backward()``: ``grad`` and ``saved_tensors`` are the raw arrays, and every op
  function given only raw arrays runs its forward directly and returns a raw array
  (``apply`` below: "raw in, raw out"). No Tensor, no node, no graph is made for the
  backward pass: it costs what the NumPy formulas cost.
* ``backward(create_graph=True)``: ``grad`` and ``saved_tensors`` are Tensors, so the
  same formula records a graph of its own, which can be differentiated again.

HIPS autograd and JAX write their rules the same way, with functions that accept plain
arrays as well as traced values.
"""

from __future__ import annotations

import weakref

from .. import tensor as _tensor  # circular on purpose: Tensor wraps Function outputs
from .grad_mode import _mode, check_finite, user_frame


class Function:
    """A differentiable operation; see the module docstring for the contract.

    After ``apply`` records a node, it holds::

      edges       for each input: where its gradient goes (the input's node, the input
                  itself if it is a leaf, or None if it needs no gradient), with the
                  input's shape and dtype, so the engine can undo broadcasting, and
                  which output of that node the input was (None: its only output);
      output_ref  a weak reference to the output Tensor (for its hooks, retain_grad);
      _saved      the arrays save_for_backward kept (freed after backward), and
      _saved_ids  the ids of the input arrays and of the output, to tell them apart.

    A forward may also return a tuple of arrays (``split``, ``unbind``): the op then has
    ``num_outputs`` outputs, ``output_refs`` holds a weak reference to each, and its
    backward receives one gradient per output, ``backward(*grads)``, with None for an
    output that got no gradient. (Such an op must not save its outputs.)
    """

    created_at = None  # "file:line" of user code, recorded under detect_anomaly()
    _to_save = ()  # what forward passed to save_for_backward
    num_outputs = 1
    outputs_watched = False  # set when an output gets a hook or retain_grad (Tensor._watch)

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
        """What forward saved, in the mode the backward runs in (module docstring).

        In plain mode (grad mode off, as the engine runs a plain backward) the arrays
        themselves. When the backward is recorded (grad mode on: create_graph=True) an
        input comes back as the input Tensor itself and the output as a Tensor made by
        this node, so that the formula is differentiable in them; anything else saved
        (a mask, an intermediate) is a constant."""
        if self._saved is None:
            raise RuntimeError(
                f"Trying to backward through {type(self).__name__} a second time, but its "
                "saved arrays were freed after the first backward. Pass "
                "retain_graph=True to the first backward() if you need to go through "
                "the graph twice."
            )
        if not _mode.grad_enabled:
            return self._saved
        return tuple(map(self._saved_variable, self._saved))

    def _saved_variable(self, array):
        """A saved array as a recorded backward must see it: an input as that input (the
        leaf Tensor, or its node's output), this node's output as its output, anything
        else as a constant. Arrays are matched by ``id``: every saved array was alive
        together with the inputs and the output when forward ran, so the same id means
        the same array."""
        Tensor = _tensor.Tensor
        input_ids, output_id = self._saved_ids
        for (source, _, _, index), input_id in zip(self.edges, input_ids):
            if id(array) == input_id:
                if isinstance(source, Function):
                    return Tensor._make(array, node=source, output_index=index)
                return source if source is not None else Tensor._make(array)  # a leaf, a constant
        return Tensor._make(array, node=self if id(array) == output_id else None)

    def release(self) -> None:
        """Free the saved arrays (the graph's edges stay, as in PyTorch)."""
        self._saved = None

    @classmethod
    def apply(cls, *inputs, **options):
        """Run the op. Given no Tensor at all (raw arrays, numbers) it is the formula on
        arrays: raw in, raw out, nothing recorded. Otherwise the result is a Tensor, and
        in grad mode, if some input requires a gradient, the node is recorded on it.

        This runs for every op, so it is written for speed: one pass over the inputs for
        each question, and conversions and device checks only when they can matter."""
        Tensor = _tensor.Tensor
        is_tensor = [isinstance(t, Tensor) for t in inputs]
        if True not in is_tensor:
            return cls().forward(*inputs, **options)
        if False in is_tensor:  # operators convert numbers and arrays first
            inputs = _tensor.as_tensors(inputs)
        _tensor.check_same_device(inputs, cls.__name__)
        fn = cls()
        anomaly = _mode.anomaly
        if anomaly:
            fn.created_at = user_frame()
        arrays = [t.data for t in inputs]
        output = fn.forward(*arrays, **options)
        several = isinstance(output, tuple)
        if anomaly:
            for array in output if several else (output,):
                check_finite(array, "forward", fn)
        if not (_mode.grad_enabled and True in [t.requires_grad for t in inputs]):
            return tuple(map(Tensor._make, output)) if several else Tensor._make(output)

        fn.edges = [((t._node or t) if t.requires_grad else None, a.shape, a.dtype, t._output_index)
                    for t, a in zip(inputs, arrays)]
        fn._saved, fn._to_save = fn._to_save, ()
        if fn._saved:  # for a recorded backward (_saved_variable): which array was which
            fn._saved_ids = [id(a) for a in arrays], id(output)
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


def constant(array):
    """An array that a backward formula made itself (a mask, zeros), in the mode the
    backward runs in: the array in plain mode, a constant Tensor when recorded."""
    return _tensor.Tensor._make(array) if _mode.grad_enabled else array
