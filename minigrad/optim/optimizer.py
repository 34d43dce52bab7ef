"""Optimizer: the bookkeeping every optimizer shares (parameter groups, state, checkpoints).

An optimizer changes parameters in place, using their gradients and some memory of its
own. This base class owns everything that is *not* the update rule:

* ``param_groups``: a list of dicts. Each dict holds ``"params"`` (a list of Tensors)
  and that group's options (``"lr"``, ``"momentum"``, ...). Options missing from a group
  are filled from ``defaults``. The options are read again at every step, so
  ``group["lr"] = 0.01`` between steps (or a learning-rate scheduler) takes effect.
* ``state``: a dict from parameter to that parameter's memory (``{"step": 3,
  "square_avg": array, ...}``). It is keyed by the parameter object itself (Tensors
  hash by identity), not by ``id(p)``: an id can be reused by a new object once the
  old one is freed, a Tensor key cannot.
* ``step()``: for every parameter that has a gradient, create its state the first time
  (``init_state``) and apply the rule (``update_parameter``). Parameters whose
  ``.grad`` is None are skipped and get no state, as in PyTorch.
* ``state_dict()`` / ``load_state_dict()``: PyTorch's layout, with parameters replaced by
  their position (0, 1, 2, ... across all groups), so a checkpoint does not depend on
  object identities:  ``{"state": {0: {...}, 1: {...}}, "param_groups": [{"lr": ...,
  "params": [0, 1]}]}``.

A subclass (sgd.py, rmsprop.py, ...) validates its hyperparameters, then writes two
methods: ``init_state(param, group) -> dict`` and ``update_parameter(param, grad, state,
group)``. They touch only ``param.data`` and ``grad`` (the raw arrays) through
``xp = get_array_module(param.data)``, so the same code runs on NumPy and CuPy, and they
update in place without building a graph.

Difference from PyTorch: the step counter ``state["step"]`` is a Python int here; PyTorch
stores a 0-d float32 tensor (so that CUDA graphs can capture it). ``load_state_dict``
accepts either.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable

import numpy

from .. import backend
from ..autograd import enable_grad
from ..tensor import Tensor

SET_MESSAGE = ("optimizer parameters need to be organized in ordered collections, but the ordering of "
               "tensors in sets will change between runs. Please use a list instead.")


class Optimizer:
    """Base class of all optimizers: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of Tensors, or of dicts (parameter groups) such as
    ``[{"params": [w1, b1]}, {"params": [w2], "lr": 1e-3}]``. ``defaults`` maps each
    option name to the value used when a group does not give one.
    """

    def __init__(self, params: Iterable, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors "
                            "or dicts, but got a single Tensor; pass [tensor]")
        if isinstance(params, (set, frozenset)):  # PyTorch accepts a set here; its order is arbitrary
            raise TypeError(SET_MESSAGE)
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        params = list(params)
        if len(params) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    # -- parameter groups ------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (missing ones from defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)  # the caller's dict stays as it was
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(SET_MESSAGE)
        elif params is None:
            raise ValueError("a parameter group needs a 'params' entry")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__module__}.{type(p).__qualname__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", UserWarning, stacklevel=3)
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)

        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # -- the step ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set ``.grad`` to None (default) or fill it with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data.fill(0)

    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient; return ``closure()`` if given.

        ``closure`` (optional) re-evaluates the model and returns the loss, as in PyTorch;
        it runs with gradients enabled, before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if state is None:
                    state = self.init_state(p, group)
                self.update_parameter(p, p.grad.data, state, group)
                if state:  # an optimizer without memory (plain SGD) keeps no entry, as PyTorch
                    self.state[p] = state
        return loss

    def init_state(self, param: Tensor, group: dict) -> dict:
        """The state of a parameter before its first update (override)."""
        return {}

    def update_parameter(self, param: Tensor, grad, state: dict, group: dict) -> None:
        """Change ``param.data`` in place from ``grad`` (an array) and ``state`` (override)."""
        raise NotImplementedError(f"{type(self).__name__} does not define update_parameter")

    # -- checkpoints ---------------------------------------------------------------------------
    def _indexed_params(self) -> list:
        """All parameters in group order: position i is index i of the state_dict."""
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """``{"state": {index: {name: value}}, "param_groups": [{option: value, "params":
        [index, ...]}]}`` with NumPy copies of the arrays, ready for ``minigrad.save``."""
        index_of = {id(p): i for i, p in enumerate(self._indexed_params())}
        groups = []
        for group in self.param_groups:
            packed = {name: value for name, value in group.items() if name != "params"}
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for p in self._indexed_params():  # in index order (PyTorch: in order of creation)
            if p in self.state:
                state[index_of[id(p)]] = {name: _export(value) for name, value in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict()`` returned (or what ``minigrad.load`` read back).

        Arrays are copied onto each parameter's device; floating-point arrays take the
        parameter's dtype (as PyTorch). Group options are replaced by the saved ones. The
        optimizer must have the same number of groups and of parameters per group.
        Nothing changes if the dict does not fit.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("an optimizer state_dict is a dict with the keys 'state' and 'param_groups'")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than this optimizer ({len(self.param_groups)})")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size "
                                 f"of optimizer's group: group {i} has {len(saved['params'])} saved "
                                 f"parameters, the optimizer has {len(group['params'])}")
        param_of = {}
        for group, saved in zip(self.param_groups, saved_groups):
            for index, p in zip(saved["params"], group["params"]):
                param_of[int(index)] = p

        new_state = {}
        for index, saved_state in state_dict["state"].items():
            p = param_of.get(int(index))
            if p is None:
                raise ValueError(f"loaded state dict has state for parameter {index}, "
                                 "which no parameter group lists")
            new_state[p] = {name: _import(value, name, p, index) for name, value in saved_state.items()}

        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            # saved options win; an option the checkpoint lacks (one saved by PyTorch, or by an
            # older version) keeps its current value
            restored = {**group, **saved, "params": group["params"]}
            new_groups.append(restored)
        self.state = new_state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for name in sorted(group):
                if name != "params":
                    lines.append(f"    {name}: {group[name]}")
        lines.append(")")
        return "\n".join(lines)


def _export(value):
    """A state value for a checkpoint: arrays become NumPy copies, numbers stay numbers."""
    if backend.is_cuda_array(value) or isinstance(value, numpy.ndarray):
        return backend.to_numpy(value).copy()
    return value


def _import(value, name: str, param: Tensor, index):
    """A saved state value made ready for ``param``: on its device, floats in its dtype."""
    if name == "step":
        return int(_host_number(value))  # PyTorch saves a 0-d float tensor; we count in int
    if value is None or isinstance(value, (bool, int, float)):
        return value
    array = numpy.asarray(backend.to_numpy(value)) if backend.is_cuda_array(value) else numpy.asarray(value)
    if array.shape != param.shape:
        raise ValueError(f"loaded state {name!r} of parameter {index} has shape {array.shape}, "
                         f"but the parameter has shape {param.shape}")
    dtype = param.dtype if array.dtype.kind == "f" else array.dtype
    array = numpy.array(array, dtype=dtype, copy=True)
    return backend.to_device(array, param.device)


def _host_number(value):
    if backend.is_cuda_array(value):
        value = backend.to_numpy(value)
    return numpy.asarray(value).reshape(()).item() if not isinstance(value, (int, float)) else value
