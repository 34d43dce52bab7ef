"""Finite-difference gradient checks (placeholder until implemented)."""


class GradcheckError(AssertionError):
    pass


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    raise NotImplementedError
