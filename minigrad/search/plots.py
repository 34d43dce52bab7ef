"""The pictures of a search, drawn by Optuna's matplotlib visualizations:

* ``history.png``: every trial's validation accuracy in trial order, and the best so
  far (``plot_optimization_history``);
* ``lr_alpha.png``: validation accuracy against the learning rate and RMSprop's alpha,
  a contour over the two when the space varies both (``plot_contour``), else a slice
  along the one it varies (``plot_slice``);
* ``importances.png``: how much of the variation of the accuracy each parameter
  explains (``plot_param_importances``: fANOVA, a random forest fitted to the trials).

Each needs matplotlib, and the last two need at least two COMPLETE trials; a picture
that cannot be drawn is skipped with a note saying why. Optuna's plots go through
pyplot and set their own style: they are drawn inside ``matplotlib.rc_context()``, so
the caller's settings (a notebook's) are as they were afterwards, and each figure is
closed once saved.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy
from optuna.trial import TrialState

from ..files import atomic_path
from ..plots import matplotlib_available
from .space import Choice

PICTURES = ("history.png", "lr_alpha.png", "importances.png")
TARGET = "validation accuracy"  # what the plots call a trial's value


def draw_pictures(study, space: dict, out: Path, log) -> list[str]:
    """Draw the pictures into ``out``; return the names of those written, after
    logging a note for each one skipped."""
    if not matplotlib_available():
        log(f"note: matplotlib is not installed, so {', '.join(PICTURES)} were not drawn (pip install matplotlib)")
        return []
    import matplotlib
    from optuna.visualization import matplotlib as optuna_plots

    completed = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    varied = [name for name in ("lr", "alpha") if name in space and _varies(space[name])]
    plans = {
        "history.png": (lambda: optuna_plots.plot_optimization_history(study, target_name=TARGET),
                        None if completed else "no trial completed"),
        "lr_alpha.png": (lambda: _lr_alpha(optuna_plots, study, varied),
                         _too_few(completed) or (None if varied else "the space varies neither lr nor alpha")),
        "importances.png": (lambda: optuna_plots.plot_param_importances(study, target_name=TARGET),
                            _too_few(completed) or (None if any(map(_varies, space.values()))
                                                    else "the space varies no parameter")),
    }
    written = []
    with matplotlib.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks these plots experimental
        for name, (draw, why_not) in plans.items():
            if why_not is None:
                why_not = _save(draw, out / name)
            if why_not is None:
                written.append(name)
            else:
                log(f"note: {name} not drawn: {why_not}")
    return written


def _varies(spec) -> bool:
    return not (isinstance(spec, Choice) and len(spec.values) == 1)


def _too_few(completed: int) -> str | None:
    return None if completed >= 2 else f"it needs 2 completed trials, the study has {completed}"


def _lr_alpha(optuna_plots, study, varied: list[str]):
    if len(varied) == 2:
        return optuna_plots.plot_contour(study, params=varied, target_name=TARGET)
    return optuna_plots.plot_slice(study, params=varied, target_name=TARGET)


def _save(draw, path: Path) -> str | None:
    """Draw and save one picture; None when written, else why not."""
    from matplotlib import pyplot

    try:
        axes = draw()
    except (ValueError, RuntimeError) as error:  # e.g. importances of trials that all scored the same
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    figure = numpy.ravel(axes)[0].figure  # one Axes, or an array of them (one per parameter)
    try:
        with atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=100, bbox_inches="tight")
    finally:
        pyplot.close(figure)
    return None
