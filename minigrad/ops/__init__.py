"""Differentiable primitives, forward and backward side by side (see autograd.Function)."""
