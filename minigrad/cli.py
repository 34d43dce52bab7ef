"""The ``minigrad`` command.

``minigrad demo`` fits a small network to sin(x) with nothing but Tensors and the
backward engine: a first taste of what the lessons build up to. (The training command
for Fashion-MNIST, ``minigrad train``, arrives with the layers and optimizers.)
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy

import minigrad as mg


def demo(steps: int = 2000, hidden: int = 32, lr: float = 0.05, seed: int = 0) -> float:
    """Fit y = sin(x) on [-pi, pi] with a 1-hidden-layer tanh network and gradient
    descent; print the loss as it falls and return the final mean squared error."""
    mg.manual_seed(seed)
    x = mg.arange(-math.pi, math.pi, 2 * math.pi / 128).reshape(-1, 1)
    y = mg.tensor(numpy.sin(x.numpy()))  # the target: no gradient needed through it
    # weights scaled by 1/sqrt(fan_in) so tanh starts in its linear range
    w1 = mg.randn(1, hidden, requires_grad=True)
    b1 = mg.zeros(hidden, requires_grad=True)
    w2 = (mg.randn(hidden, 1) * hidden**-0.5).requires_grad_()
    b2 = mg.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    start = time.perf_counter()
    for step in range(1, steps + 1):
        prediction = (x @ w1 + b1).tanh() @ w2 + b2
        loss = ((prediction - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with mg.no_grad():
            for p in params:
                p.data -= lr * p.grad.data  # plain gradient descent: theta <- theta - lr * dL/dtheta
        if step == 1 or step % (steps // 10) == 0:
            print(f"step {step:5d}   mean squared error {loss.item():.6f}")
    print(f"fitted sin(x) with {sum(p.size for p in params)} parameters in {time.perf_counter() - start:.1f} s")
    return loss.item()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="minigrad", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="fit sin(x) with a tiny network")
    demo_parser.add_argument("--steps", type=int, default=2000)
    demo_parser.add_argument("--lr", type=float, default=0.05)
    demo_parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(steps=args.steps, lr=args.lr, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
