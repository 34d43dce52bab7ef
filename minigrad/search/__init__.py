"""``minigrad search``: hyperparameter search for ``minigrad train`` with Optuna.

The RMSProp article this project started from ends with tuning the learning rate,
the decay rate ρ (``alpha``) and ε; lesson 15 does it by hand. This package does it
for real, as a thin layer over Optuna (https://optuna.org), which already knows how to
propose trials (samplers), stop hopeless ones early (pruners) and share one study
between any number of processes and machines (storages). What it adds is the
mapping from ``minigrad train`` to Optuna, one idea per file:

* space.py: the search space over ``minigrad train``'s options, and its spec syntax
  (``lr=1e-4:1e-1:log``, ``alpha=0.9,0.99,0.999``);
* objective.py: one trial = one training run on the training set less a validation
  split, reporting the validation accuracy after every epoch, pruned when hopeless;
* study.py: samplers (grid, random, TPE), pruners (median, successive halving), the
  shared budget of trials, and retrying trials that were cut short;
* storage.py: the storage (a journal file by default, PostgreSQL for many machines),
  heartbeats, and how to watch a study live with ``optuna-dashboard``;
* worker.py: one worker process; runner.py: the search itself (K workers, the
  progress bar, the outputs, the final run of the best configuration);
* results.py and plots.py: trials.json, trials.csv, best.json and the pictures.

From Python (a notebook)::

    from minigrad.search import search
    result = search(model="mlp", params={"lr": "1e-4:1e-1:log", "alpha": "0.9,0.99"},
                    trials=20, workers=2, epochs=2, limit=6000)
    result["best"]["command"]  # the minigrad train command line of the best configuration

Watch it live, from another terminal, with ``optuna-dashboard`` (``pip install
optuna-dashboard``) on the storage the search prints when it starts::

    optuna-dashboard runs/search-20250101-120000/journal.log

Optuna is an optional dependency (``pip install 'minigrad[search]'``): this file and
space.py, settings.py and errors.py do not import it, so ``import minigrad`` and
``minigrad --help`` work without it; ``search`` imports it when first used.
"""

from __future__ import annotations

__all__ = ["search"]


def __getattr__(name: str):
    # `minigrad.search.search` is looked up here on first use (PEP 562), so that importing
    # this package (as cli.py does, for the space's parameter names) does not import Optuna.
    if name == "search":
        from .runner import search

        return search
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
