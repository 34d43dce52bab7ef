"""The Optuna study of a search: its sampler, its pruner, its budget of trials, and
opening it in a storage that other processes (and machines) share.

**Samplers** propose the next trial's parameters. ``random`` draws each one
independently; ``tpe`` (Tree-structured Parzen Estimator, Optuna's default) starts
random, then splits the finished trials into good and bad ones and proposes values
that are likely under the good ones and unlikely under the bad; ``grid`` runs every
combination of the values in ``space.grid_values``. With several workers TPE uses
the "constant liar": a trial still running counts as a bad one, so that two workers
do not both propose the point the other is already trying.

**Seeds.** Trials are always trained from the search's seed (objective.py). The
samplers' own seeds: on the default storage (one machine), worker k's sampler is
seeded from the search's seed, k and the number of trials the study had when the
worker started, so a search with one worker proposes the same trials when run again,
and a resumed search does not replay its first proposals. On a storage given with
``--storage`` (shared with other machines, which run the same command with the same
seed) the samplers are not seeded: every process must propose its own trials.

**The budget** (``--trials N``) is the study's number of finished trials, COMPLETE or
PRUNED, counted in the storage, so it is shared by every process on the study. Optuna's
``MaxTrialsCallback`` stops a worker's loop once the count reaches N. The count here
includes the RUNNING trials: a worker that finishes a trial while the others are still
running the last ones does not start one more, so the study ends with N finished trials
rather than up to N + K - 1. A running trial that then fails (its worker was killed)
leaves the budget one short; the next run (``--resume``, or any process joining the
study) makes it up.
"""

from __future__ import annotations

import numpy
import optuna
from optuna.trial import TrialState

from .errors import SearchError
from .space import grid_values
from .storage import MAX_RETRIES

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TAKEN = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)  # trials the budget has room for
USER_ATTRIBUTE = "minigrad_search"  # the study's user attribute that holds its trial settings


def make_sampler(name: str, space: dict, seed: int | None):
    if name == "grid":
        return optuna.samplers.GridSampler({param: grid_values(param, spec) for param, spec in space.items()},
                                           seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    raise SearchError(f"unknown sampler {name!r}; choose grid, random or tpe")


def make_pruner(name: str):
    """``median``: Optuna's MedianPruner with its defaults (no pruning before 5 trials
    have finished); ``halving``: SuccessiveHalvingPruner (Asynchronous Successive
    Halving); ``none``: every trial runs all its epochs."""
    if name == "median":
        return optuna.pruners.MedianPruner()
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise SearchError(f"unknown pruner {name!r}; choose median, halving or none")


def sampler_seed(seed: int, worker: int, trials_so_far: int, shared: bool) -> int | None:
    """The seed of worker ``worker``'s sampler (see the module docstring):
    ``SeedSequence`` mixes the three numbers into one well-spread seed."""
    if shared:
        return None
    return int(numpy.random.SeedSequence([seed, worker, trials_so_far]).generate_state(1)[0])


def open_study(storage, name: str, trial_settings: dict, sampler=None, pruner=None) -> optuna.Study:
    """The study ``name`` in ``storage``, created if it does not exist (by whichever
    process comes first; Optuna settles a race between two creations). A new study
    records ``trial_settings`` in its user attributes; an existing one must hold the
    same, or ``SearchError`` says what differs."""
    study = optuna.create_study(storage=storage, study_name=name, direction="maximize", sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise SearchError(f"--study {name}: the study exists and minimises its value; a search maximises "
                          "accuracy: choose another --study name")
    recorded = study.user_attrs.get(USER_ATTRIBUTE)
    if recorded is None:
        study.set_user_attr(USER_ATTRIBUTE, trial_settings)
    elif recorded != trial_settings:
        raise SearchError(f"--study {name}: the study exists with other settings ({_differences(recorded, trial_settings)}); "
                          "give the same ones, or choose another --study name")
    return study


def _differences(recorded: dict, wanted: dict) -> str:
    differ = []
    for key in sorted(set(recorded) | set(wanted)):
        if recorded.get(key) != wanted.get(key):
            differ.append(f"{key} {_shown(recorded.get(key))} there, {_shown(wanted.get(key))} here")
    return "; ".join(differ)


def _shown(value) -> str:
    if isinstance(value, dict):
        return "{" + " ".join(f"{key}={spec}" for key, spec in value.items()) + "}"
    return str(value)


def count(study: optuna.Study, states) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def budget_callback(trials: int) -> optuna.study.MaxTrialsCallback:
    """Stop a worker's loop once finished + running trials reach ``trials`` (see the
    module docstring)."""
    return optuna.study.MaxTrialsCallback(trials, states=TAKEN)


def fail_left_running(study: optuna.Study) -> list[int]:
    """Mark FAIL the trials left RUNNING by a process that is gone, and return their
    numbers. Only for ``--resume`` on the default storage: nothing else can be running
    the trials of that journal file then, and the journal has no heartbeat to tell."""
    left = [trial.number for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
    for number in left:
        study.tell(number, state=TrialState.FAIL)
    return left


def retry_failed(study: optuna.Study) -> list[int]:
    """Queue again the trials that were cut short, and return their numbers.

    Every FAIL trial that has not been retried yet (a trial stopped by Ctrl-C, a killed
    worker's) gets a copy with the same parameters in state WAITING, which the next
    worker runs before asking the sampler for anything new. This is what Optuna's
    ``RetryHeartbeatStaleTrialCallback`` does for a trial whose heartbeat stopped, and it
    is used here to do it, so both kinds of retry are recorded the same way (the copy's
    ``retry_history``), and a trial is retried at most ``MAX_RETRIES`` times."""
    trials = study.get_trials(deepcopy=False)
    retried = {number for trial in trials for number in trial.system_attrs.get("retry_history", [])}
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)
    queued = []
    for trial in trials:
        earlier_retries = len(trial.system_attrs.get("retry_history", []))
        if trial.state == TrialState.FAIL and trial.number not in retried and earlier_retries < MAX_RETRIES:
            retry(study, trial)
            queued.append(trial.number)
    return queued
