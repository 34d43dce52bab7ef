"""Quality of the default training runs: test accuracy and wall time over several seeds.

    python benchmarks/quality.py                       # all four models, seeds 0 1 2
    python benchmarks/quality.py --models cnn --seeds 0 --torch
    python benchmarks/quality.py --report runs/quality/quality.json   # the table again

For each model it runs exactly what ``minigrad train --model NAME --seed S`` runs (the
defaults of minigrad/train.py) on the full Fashion-MNIST, and prints a Markdown table
of min / median / max test accuracy and wall time, the table README reports. With
``--torch`` (and PyTorch installed) the same networks are trained the same way in
PyTorch (same data, normalisation, batch size, epochs, RMSprop and cosine schedule),
for the column "PyTorch" of that table. Results also go to ``--out``/quality.json.

Issue 4's targets on a 2-core CPU: cnn >= 0.90 in <= 10 min, mlp >= 0.88 in <= 5 min,
lstm >= 0.87 and rnn >= 0.83 in <= 15 min each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from minigrad import train as training  # after the path set-up above
from minigrad.files import atomic_path

TARGETS = {"cnn": (0.90, 600), "mlp": (0.88, 300), "lstm": (0.87, 900), "rnn": (0.83, 900)}


def run_minigrad(model: str, seed: int, out: Path) -> tuple[float, float]:
    config = training.TrainConfig(model=model, seed=seed)
    result = training.train(config, out / f"{model}-seed{seed}", log=lambda text: None)
    return result["test_accuracy"], result["wall_seconds"]


def run_torch(model: str, seed: int) -> tuple[float, float]:
    """The same run in PyTorch: same architecture (models.py), data, schedule."""
    import numpy
    import torch

    started = time.perf_counter()
    config = training.TrainConfig(model=model, seed=seed).resolved()
    train_x, train_y, test_x, test_y, _ = training.load_data(config)
    torch.manual_seed(seed)
    net = torch_model(model, torch)
    optimizer = torch.optim.RMSprop(net.parameters(), lr=config.lr)
    # the schedule minigrad's run uses (train.make_scheduler), in PyTorch's own class
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
                 if config.schedule == "cosine" else None)
    order = numpy.random.default_rng(seed)
    for _ in range(config.epochs):
        net.train()
        permutation = order.permutation(len(train_y))
        for start in range(0, len(train_y), config.batch_size):
            batch = permutation[start:start + config.batch_size]
            loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(train_x[batch])),
                                                     torch.from_numpy(train_y[batch]))
            optimizer.zero_grad()
            loss.backward()
            if config.clip:
                torch.nn.utils.clip_grad_norm_(net.parameters(), config.clip)
            optimizer.step()
        if scheduler is not None:
            scheduler.step()  # once per epoch, as minigrad's run does
    net.eval()
    with torch.no_grad():
        predicted = numpy.concatenate([net(torch.from_numpy(test_x[i:i + 500])).argmax(1).numpy()
                                       for i in range(0, len(test_y), 500)])
    return float(numpy.mean(predicted == test_y)), time.perf_counter() - started


def torch_model(name: str, torch):
    """The torch.nn twin of minigrad.models' network ``name`` (same layers, same state_dict keys)."""
    nn = torch.nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

    class RowReader(nn.Module):
        def __init__(self):
            super().__init__()
            self.recurrent = (nn.RNN if name == "rnn" else nn.LSTM)(28, 128, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, images):
            _, state = self.recurrent(images.reshape(images.shape[0], 28, 28))
            return self.head((state[0] if name == "lstm" else state)[-1])

    return RowReader()


def summary(values: list[float], digits: int) -> str:
    return f"{min(values):.{digits}f} / {statistics.median(values):.{digits}f} / {max(values):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--torch", action="store_true", help="also train the same models in PyTorch")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "quality")
    parser.add_argument("--report", type=Path, metavar="JSON",
                        help="print the table of an earlier run's quality.json; train nothing")
    args = parser.parse_args()
    if args.report:
        print(table(json.loads(args.report.read_text())))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for model in args.models:
        runs = [run_minigrad(model, seed, args.out) for seed in args.seeds]
        results[model] = {"seeds": args.seeds, "minigrad": runs}
        if args.torch:
            results[model]["torch"] = [run_torch(model, seed) for seed in args.seeds]
        print(f"{model}: {results[model]}", file=sys.stderr, flush=True)
        # Written after every model so that a long run stopped half way keeps what it measured
        # (under a temporary name, then renamed: a stop during the write keeps the previous file).
        with atomic_path(args.out / "quality.json") as temporary:
            temporary.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


def table(results: dict) -> str:
    """The Markdown table README shows: min / median / max over the seeds."""
    with_torch = any("torch" in result for result in results.values())
    lines = ["| model | target | test accuracy min / median / max | wall seconds min / median / max |"
             + (" PyTorch accuracy | PyTorch wall seconds |" if with_torch else ""),
             "|---|---|---|---|" + ("---|---|" if with_torch else "")]
    for model, result in results.items():
        accuracy, seconds = zip(*result["minigrad"])
        target = f">= {TARGETS[model][0]:.2f} in <= {TARGETS[model][1] // 60} min"
        row = f"| {model} | {target} | {summary(accuracy, 4)} | {summary(seconds, 0)} |"
        if "torch" in result:
            torch_accuracy, torch_seconds = zip(*result["torch"])
            row += f" {summary(torch_accuracy, 4)} | {summary(torch_seconds, 0)} |"
        lines.append(row)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
