"""Optimizers, learning-rate schedulers and gradient clipping (one file per idea).

Read optimizer.py first (what every optimizer shares), then sgd.py, then rmsprop.py:
its docstring explains RMSProp and how the RMSProps of PyTorch, Keras, TensorFlow 1,
Optax, Graves (2013) and Hinton (2012) differ. Every optimizer gives PyTorch's numbers.
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .clip import clip_grad_norm_, clip_grad_value_
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
           "SGD",
           "Adagrad",
           "Adam",
           "AdamW",
           "Optimizer",
           "RMSprop",
           "clip_grad_norm_",
           "clip_grad_value_",
           "lr_scheduler",
]
