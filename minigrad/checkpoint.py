"""save / load without pickle (placeholder until implemented)."""


def save(state, path):
    raise NotImplementedError


def load(path):
    raise NotImplementedError
