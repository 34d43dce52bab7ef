"""Containers: modules that hold other modules in order.

``Sequential`` is the model "apply these layers one after another"; ``ModuleList`` is
a plain list of modules whose parameters are registered (a Python list in a module
would hide them from ``parameters()``, so the optimizer would never train them).
Children are registered under their index as a string, "0", "1", ..., which is why
their parameters are named ``0.weight``, ``1.bias`` (as in PyTorch).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator

from .module import Module


class _ModuleSequence(Module):
    """Indexing, length and iteration over the children, shared by both containers."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def _key(self, index: int) -> str:
        """The name of child ``index`` (negative counts from the end, as a list)."""
        if not isinstance(index, int):
            raise TypeError(
                f"{type(self).__name__} indices must be integers or slices, not {type(index).__name__}"
            )
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {type(self).__name__} of length {len(self)}")
        return list(self._modules)[index % len(self)]

    def __getitem__(self, index):
        if isinstance(index, slice):
            # A slice is a container of the same kind, holding the same module objects
            # under their original names (as PyTorch).
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._key(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(self._key(index), module)

    def append(self, module: Module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]):
        for module in modules:
            self.append(module)
        return self


class Sequential(_ModuleSequence):
    """Chain modules: ``Sequential(a, b, c)(x) = c(b(a(x)))``.

    Takes modules as arguments (named "0", "1", ...) or one OrderedDict name -> module.
    Supports ``len``, iteration, ``seq[i]`` (negative too) and ``seq[i:j]`` (a Sequential).
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters belong to the parent: ``ModuleList(modules)``
    with ``append``, ``extend``, ``len``, iteration and indexing. It has no forward;
    the parent's forward decides how to use the modules."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if isinstance(modules, OrderedDict):  # what slicing passes
            for name, module in modules.items():
                self.add_module(name, module)
        elif modules is not None:
            self.extend(modules)
