"""Module and Parameter: how a network keeps track of its weights.

A layer is a function with state. ``Linear`` computes ``x W^T + b``, and W and b must
live somewhere, be found by the optimizer, be moved to the GPU, and be saved to disk.
``Module`` does that bookkeeping once, for every layer and every model made of layers:

* **Registration.** Assigning an attribute files it by type (``__setattr__`` below)::

      self.weight = Parameter(...)   ->  self._parameters["weight"]   (trained)
      self.register_buffer("running_mean", t)  ->  self._buffers[...]  (state, not trained)
      self.fc1 = Linear(...)         ->  self._modules["fc1"]         (a child module)

  The three are dicts, so everything keeps the order in which it was defined, which
  is the order of ``parameters()`` and of ``state_dict()``.
* **Names.** A model is a tree of modules. Walking it, a parameter's name is the path
  of attribute names joined by dots: ``features.0.weight`` is the ``weight`` of child
  ``0`` of child ``features``. These are PyTorch's names, so a ``state_dict`` moves
  between the two libraries.
* **Modes.** ``train()`` / ``eval()`` set ``.training`` on every module of the tree;
  Dropout and BatchNorm read it.

A subclass only writes ``__init__`` (create parameters and children) and ``forward``.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator

import numpy

from .. import backend
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as a trainable weight (``requires_grad=True``).

    ``Parameter(data)`` takes an array (copied; NumPy's dtype is kept, Python floats
    become float32) or a Tensor (its array is shared, not copied, and stays on its
    device, as ``torch.nn.Parameter`` does). Gradients exist only for floating point
    numbers, so integer data raises TypeError.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        array = data.data if isinstance(data, Tensor) else Tensor(data).data
        super().__init__(0.0)  # set up the slots; the array is replaced just below
        self.data = array
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(
                f"Parameter needs floating point data, because gradients are only defined "
                f"for floats; got dtype {self.dtype}. Convert it first, e.g. "
                "Parameter(array.astype('float32'))"
            )
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class StateDictError(ValueError, RuntimeError):
    """``load_state_dict`` refused a state dict (wrong keys or shapes).

    A ValueError, minigrad's error for bad values, and also a RuntimeError, which is
    what PyTorch raises here, so code written for either catches it.
    """


# What load_state_dict returns: names this module has that the state lacked, and names
# in the state that this module does not have (a tuple, as in PyTorch).
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of every layer and model. Subclasses define ``__init__`` (calling
    ``super().__init__()`` first) and ``forward``; calling the module runs forward."""

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these dicts to exist already.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define it in the subclass")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- registration -----------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() was called; "
                "call super().__init__() first in your __init__"
            )
        if isinstance(value, Parameter):
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif name in self._parameters:
            # model.weight = some_tensor would silently stop training it: refuse, as torch
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    "(a Parameter or None expected); to change the values, assign to .data"
                )
            self._parameters[name] = None
        elif name in self._modules:
            if value is not None:
                raise TypeError(_wrong_type("assign", value, "child module", name, "Module"))
            self._modules[name] = None
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(_wrong_type("assign", value, "buffer", name, "Tensor"))
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails, i.e. for registered names. Reads
        # __dict__ directly so that a half-built object (copy, pickle) cannot recurse.
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return [*super().__dir__(), *self._parameters, *self._buffers, *self._modules]

    def _forget(self, name: str, keep: dict | None = None) -> None:
        """Remove ``name`` from every registry but ``keep`` (where it is about to be
        stored: replacing an entry there keeps its place in the order)."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None: a slot with no parameter, e.g. ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(_wrong_type("register", param, "parameter", name, "Parameter"))
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Register state that is saved and moved with the module but not trained
        (BatchNorm's running statistics). Read and assign it as ``self.<name>``."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(_wrong_type("register", tensor, "buffer", name, "Tensor"))
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a child module under ``name`` (which may be any string, e.g. "0")."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(_wrong_type("add", module, "child module", name, "Module"))
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    # -- walking the tree ---------------------------------------------------------------
    def named_modules(self, prefix: str = "", _seen: set | None = None) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module (named ``prefix``) and all below it,
        parents before children; a module reachable twice is listed once."""
        seen = set() if _seen is None else _seen
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, seen)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct children only, in the order they were assigned."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_tensors(self, registry: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, tensor) from each module's ``registry``; a tensor shared by
        two modules (tied weights) is listed once, under its first name."""
        seen = set()
        modules = self.named_modules() if recurse else [("", self)]
        for prefix, module in modules:
            for name, t in getattr(module, registry).items():
                if t is not None and id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{prefix}.{name}" if prefix else name), t

    def named_parameters(self, recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs, e.g. ("0.weight", ...), in registration order."""
        return self._named_tensors("_parameters", recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter once, in registration order: what an optimizer is given."""
        for _, p in self.named_parameters(recurse):
            yield p

    def named_buffers(self, recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_tensors("_buffers", recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse):
            yield b

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every child (recursively), then on self; e.g. a custom
        initialisation. Returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- modes, gradients, devices ---------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on the whole tree."""
        if not isinstance(mode, bool):
            raise TypeError(f"training mode is expected to be a bool, got {mode!r}")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout is the identity, BatchNorm uses its running stats."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradients on or off for every parameter (freezing a layer)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients from the last backward (they would accumulate)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data[...] = 0

    def to(self, device) -> Module:
        """Move every parameter and buffer (and gradient) to ``device``, in place.

        The Parameter objects stay the same objects and only their ``.data`` changes,
        so an optimizer made before the move (which keys its state by parameter) keeps
        working. Returns self, so ``model = Model().to("cuda")`` reads naturally.
        """
        device = backend.check_device(device)
        for t in [*self.parameters(), *self.buffers()]:
            t.data = backend.to_device(t.data, device)
            if t.grad is not None:
                t.grad.data = backend.to_device(t.grad.data, device)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self) -> Module:
        return self.to("cuda")

    # -- saving and loading ---------------------------------------------------------------
    def _state_tensors(self, prefix: str = "") -> dict:
        """name -> Tensor for every entry of the state dict: each module's parameters,
        then its buffers, then its children's entries under "<child name>.".
        Unlike parameters(), a tied weight appears under each of its names (as torch)."""
        entries = {}
        for name, t in [*self._parameters.items(), *self._buffers.items()]:
            if t is not None:
                entries[prefix + name] = t
        for name, child in self._modules.items():
            if child is not None:
                entries.update(child._state_tensors(f"{prefix}{name}."))
        return entries

    def state_dict(self) -> dict:
        """An ordered dict name -> NumPy array (a copy, on the host) of every parameter
        and buffer: everything needed to rebuild the trained model."""
        return {name: numpy.array(t.numpy(), copy=True) for name, t in self._state_tensors().items()}

    def load_state_dict(self, state: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy the arrays in ``state`` into this module's parameters and buffers.

        Each value is converted to the dtype and device of the tensor it replaces. All
        of ``state`` is checked before anything is written, so a refused state dict
        leaves the module untouched. Refused: a shape that differs (always), and with
        ``strict=True`` also missing or unexpected names. Returns
        ``(missing_keys, unexpected_keys)``.
        """
        own = self._state_tensors()
        missing = [name for name in own if name not in state]
        unexpected = [name for name in state if name not in own]
        values, problems = {}, []
        for name in own:
            if name not in state:
                continue
            value = state[name]
            array = value.numpy() if isinstance(value, Tensor) else numpy.asarray(value)
            if array.shape != own[name].shape:
                problems.append(
                    f"size mismatch for {name}: copying an array of shape {array.shape} from "
                    f"the state dict, but the shape in this module is {own[name].shape}"
                )
            else:
                values[name] = array
        if strict and unexpected:
            problems.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(repr(k) for k in unexpected))
        if strict and missing:
            problems.insert(0, "Missing key(s) in state_dict: " + ", ".join(repr(k) for k in missing))
        if problems:
            raise StateDictError(
                f"Error(s) in loading state_dict for {type(self).__name__} (nothing was changed):\n\t"
                + "\n\t".join(problems)
            )
        # Convert everything first (a value that cannot be cast fails here, still
        # before any write), then copy in place: the arrays keep their identity.
        converted = {name: array.astype(own[name].dtype) for name, array in values.items()}
        for name, array in converted.items():
            target = own[name]
            target.data[...] = backend.to_device(array, target.device)
        return IncompatibleKeys(missing, unexpected)

    # -- printing -----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses, e.g. "in_features=2, out_features=3, bias=True"."""
        return ""

    def __repr__(self) -> str:
        """The tree, in PyTorch's format: one line per child, each indented by two
        spaces, e.g.::

            Sequential(
              (0): Linear(in_features=784, out_features=256, bias=True)
              (1): ReLU()
            )
        """
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_indent(repr(child))}" for name, child in self._modules.items()]
        if not child_lines and len(extra_lines) <= 1:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(extra_lines + child_lines)
        return f"{type(self).__name__}(\n  {body}\n)"


def _wrong_type(action: str, value, role: str, name: str, expected: str) -> str:
    """The message for registering a value of the wrong type (e.g. a list as a module)."""
    return f"cannot {action} {type(value).__name__} as {role} {name!r} (a {expected} or None expected)"


def _indent(text: str, spaces: int = 2) -> str:
    """Indent every line but the first (the first follows "(name): ")."""
    return text.replace("\n", "\n" + " " * spaces)
