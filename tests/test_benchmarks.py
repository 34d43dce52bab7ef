"""The benchmark compares like with like: the NumPy reference (benchmarks/reference.py)
computes the same losses, gradients and RMSprop updates as minigrad, the PyTorch models
are the same models, and the runner produces the JSON its README describes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minigrad import datasets, functional
from minigrad.losses import cross_entropy
from minigrad.optim import RMSprop
from minigrad.tensor import Tensor

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# after ROOT is on the path:
from benchmarks import children, interleaved, minigrad_models, reference, run, search_rate, targets, workloads
from benchmarks.report import _engine_lines, format_interleaved

BATCH = 16  # any batch size works; small keeps the file fast
DEEP_RNN_STEPS = 40  # the 1,000-step model on a shorter sequence


def _fashion_mnist():
    try:
        return datasets.fashion_mnist(train=False, download=False)
    except Exception:  # noqa: BLE001 - not installed here: the parity tests use stand-in images
        return None


@pytest.fixture(scope="module")
def images_and_labels():
    """64 real Fashion-MNIST test images (ties after ReLU and pooling included), or, when
    the data set is not on this machine, random images with Fashion-MNIST's many zeros."""
    data = _fashion_mnist()
    if data is not None:
        return data[0][:64], data[1][:64]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 28, 28), dtype=np.uint8)
    images[rng.random(images.shape) < 0.5] = 0
    return images, rng.integers(0, 10, size=64).astype(np.int64)


def _workload(name: str) -> workloads.Workload:
    workload = dataclasses.replace(workloads.WORKLOADS[name], batch_size=BATCH)
    if name == "deep_rnn":
        workload = dataclasses.replace(workload, steps=DEEP_RNN_STEPS)
    return workload


def _assert_close(actual, expected, what: str):
    """float32 agreement, relative to the array's scale: a weight gradient sums ~10^4 products
    (batch x pixels), and two libraries (or two BLAS thread counts) add them in different
    orders; 1e-5 of the scale was seen to fail once by 4e-7 on one entry of 4,608. A wrong
    gradient is off by far more than 1e-4 of the scale."""
    scale = float(np.abs(expected).max()) or 1.0
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * scale, err_msg=what)


def test_runner_names_agree_with_the_workloads():
    assert targets.WORKLOAD_NAMES == tuple(workloads.WORKLOADS)
    assert targets.IMPLEMENTATIONS == workloads.IMPLEMENTATIONS
    assert set(targets.TARGETS) == set(workloads.WORKLOADS)


def test_the_runners_parent_imports_neither_numpy_nor_a_framework():
    """On Linux a child's ru_maxrss starts from the RSS of the process it was forked from,
    so run.py and every module it imports keep NumPy, minigrad and torch out of the
    parent (they are imported inside the functions a child runs)."""
    code = ("import runpy, sys; names = runpy.run_path(sys.argv[1]); names['parse_args'](['--quick']); "
            "print(sorted({name.split('.')[0] for name in sys.modules} & {'numpy', 'minigrad', 'torch'}))")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "benchmarks" / "run.py")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_inputs_have_the_documented_shapes(images_and_labels):
    images, _ = images_and_labels
    expected = {"mlp": (128, 1, 28, 28), "cnn": (64, 1, 28, 28), "rnn": (28, 64, 28), "lstm": (28, 64, 28),
                "deep_rnn": (1000, 8, 1)}
    for name, shape in expected.items():
        workload = workloads.WORKLOADS[name]
        x = workloads.model_input(workload, np.resize(images, (workload.batch_size, 28, 28)))
        assert x.shape == shape and x.dtype == np.float32, name
    deep = workloads.model_input(workloads.WORKLOADS["deep_rnn"], images[:2])
    pixels = images[:2].reshape(2, 784) / np.float32(255)
    np.testing.assert_array_equal(deep[785, :, 0], pixels[:, 1])  # step t reads pixel t mod 784


@pytest.mark.parametrize("name", list(workloads.WORKLOADS))
def test_reference_gradients_equal_minigrad(name, images_and_labels):
    """Same weights, same batch: same loss and the same gradient for every parameter."""
    workload = _workload(name)
    x, y = workloads.batches(workload, *images_and_labels)[0]
    model = minigrad_models.build_model(workload)
    ours = workloads.reference_model(workload, seed=1)
    parameters = list(model.parameters())
    assert [p.shape for p in ours.params] == [p.shape for p in parameters]
    for array, parameter in zip(ours.params, parameters):
        array[...] = parameter.data

    loss = cross_entropy(model(Tensor(x)), y)
    loss.backward()
    reference_loss, reference_grads = ours.loss_and_gradients(x, y)

    assert reference_loss == pytest.approx(loss.item(), rel=1e-5)
    for index, (grad, parameter) in enumerate(zip(reference_grads, parameters)):
        assert grad.dtype == np.float32 and grad.shape == parameter.shape, (name, index)
        _assert_close(grad, parameter.grad.data, f"{name}: gradient of parameter {index} {parameter.shape}")


def test_reference_max_pool_sends_ties_to_the_first_maximum():
    """Windows of equal values (common after a ReLU): the gradient goes to the first
    maximum in row-major order, as minigrad's (and PyTorch's) max_pool2d."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(2, 3, 4, 6)).astype(np.float32)  # (N, C, H, W), many ties
    dy = rng.standard_normal((2, 3, 2, 3)).astype(np.float32)
    t = Tensor(x, requires_grad=True)
    pooled = functional.max_pool2d(t, 2)
    (pooled * Tensor(dy)).sum().backward()

    y, winners = reference.max_pool_2x2(x.transpose(0, 2, 3, 1))  # the reference is channels-last
    dx = reference.max_pool_2x2_backward(dy.transpose(0, 2, 3, 1), winners)
    np.testing.assert_array_equal(y.transpose(0, 3, 1, 2), pooled.data)
    np.testing.assert_array_equal(dx.transpose(0, 3, 1, 2), t.grad.data)


def test_reference_rmsprop_equals_minigrad_rmsprop():
    """Fed the same gradients, both optimizers move the parameters the same way, step after step."""
    rng = np.random.default_rng(0)
    shapes = [(16, 1, 3, 3), (16,), (10, 1568)]
    ours = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    theirs = [Tensor(p.copy(), requires_grad=True) for p in ours]
    ours_optimizer = reference.RMSprop(ours, lr=1e-3, alpha=0.99, eps=1e-8)
    their_optimizer = RMSprop(theirs, lr=1e-3, alpha=0.99, eps=1e-8)
    for _ in range(3):
        grads = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
        grads[1][0] = 0  # a zero gradient: eps alone keeps 0/0 away
        for parameter, grad in zip(theirs, grads):
            parameter.grad = Tensor(grad.copy())
        ours_optimizer.step(grads)
        their_optimizer.step()
        for mine, parameter in zip(ours, theirs):
            assert mine.dtype == np.float32
            np.testing.assert_allclose(mine, parameter.data, rtol=1e-6, atol=1e-7)
        for mine, state in zip(ours_optimizer.square_avg, their_optimizer.state.values()):
            np.testing.assert_allclose(mine, state["square_avg"], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name", list(workloads.WORKLOADS))
def test_pytorch_models_equal_minigrad(name, images_and_labels):
    """The PyTorch side of the benchmark runs the same model: same parameter shapes and
    order, and, with minigrad's weights copied in, the same loss and gradients."""
    torch = pytest.importorskip("torch")
    from benchmarks import torch_models

    workload = _workload(name)
    x, y = workloads.batches(workload, *images_and_labels)[0]
    model = minigrad_models.build_model(workload)
    torch_model = torch_models.build_model(workload)
    parameters, torch_parameters = list(model.parameters()), list(torch_model.parameters())
    assert [tuple(p.shape) for p in torch_parameters] == [p.shape for p in parameters]
    with torch.no_grad():
        for theirs, parameter in zip(torch_parameters, parameters):
            theirs.copy_(torch.from_numpy(parameter.data))

    loss = cross_entropy(model(Tensor(x)), y)
    loss.backward()
    torch_loss = torch.nn.functional.cross_entropy(torch_model(torch.from_numpy(x)), torch.from_numpy(y))
    torch_loss.backward()
    assert torch_loss.item() == pytest.approx(loss.item(), rel=1e-5)
    for index, (theirs, parameter) in enumerate(zip(torch_parameters, parameters)):
        _assert_close(parameter.grad.data, theirs.grad.numpy(), f"{name}: gradient of parameter {index}")


def test_reference_trainer_learns(images_and_labels):
    """A few RMSprop steps of the reference on one batch lower its loss."""
    workload = _workload("mlp")
    x, y = workloads.batches(workload, *images_and_labels)[0]
    _, step = workloads.reference_trainer(workload)
    losses = [step(x, y) for _ in range(5)]
    assert losses[-1] < losses[0]


@pytest.mark.skipif(_fashion_mnist() is None, reason="Fashion-MNIST is not on this machine (the runner needs it)")
def test_quick_run_writes_the_documented_json(tmp_path):
    """``run.py --quick`` on one small workload, without PyTorch (its import alone takes seconds)."""
    out = tmp_path / "latest.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--workloads", "mlp",
               "--implementations", "minigrad", "reference", "--memory-steps", "5", "20", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| mlp |" in done.stdout

    report = json.loads(out.read_text())
    assert set(report) == {"meta", "results", "ratios", "engine_overhead", "memory_stability"}
    meta = report["meta"]
    assert meta["quick"] is True and meta["steps"] == 5 and meta["repeats"] == 1
    for key in ("date", "command", "cpu", "numpy", "python", "openblas_overrides_removed", "load_average_at_start"):
        assert key in meta, key
    cells = {cell["implementation"]: cell for cell in report["results"]}
    assert set(cells) == {"minigrad", "reference"}
    for cell in cells.values():
        assert cell["workload"] == "mlp" and cell["threads"] == 1 and "errors" not in cell
        assert cell["ms_per_step"] > 0 and len(cell["ms_per_step_runs"]) == 1
        assert 10 < cell["peak_rss_mb"] < 2000 and cell["rss_before_training_mb"] <= cell["peak_rss_mb"]
        assert cell["loss_last"] < cell["loss_first"]
        assert cell["threads_ok"] in (True, None)  # None: threadpoolctl not installed
    (row,) = report["ratios"]
    assert row["workload"] == "mlp" and row["threads"] == 1
    assert row["time_minigrad_over_reference"] > 0 and row["time_minigrad_over_pytorch"] is None
    assert row["target_time_over_reference"] == 1.10
    assert report["engine_overhead"]["ops_per_second"] > 0
    memory = report["memory_stability"]
    assert (memory["short_steps"], memory["long_steps"]) == (5, 20)
    assert memory["rss_short_mb"] > 0 and "growth_percent" in memory


# -------------------------------------------------------------------------------------
# The interleaved mode: the arithmetic on hand-made numbers, then one quick real run


def test_per_round_ratios_and_their_median_and_range():
    ratios = interleaved.per_round_ratios([3.0, 4.0, 10.0, 1.0], [2.0, 2.0, 4.0, 1.0])
    assert ratios == [1.5, 2.0, 2.5, 1.0]
    assert interleaved.median_and_range(ratios) == {"median": 1.75, "min": 1.0, "max": 2.5, "rounds": ratios}
    assert interleaved.median_and_range([3.0, 1.0, 2.0])["median"] == 2.0
    with pytest.raises(ValueError):  # a round missing on one side is an error, not a shorter list
        interleaved.per_round_ratios([1.0, 2.0], [1.0])


def test_interleave_alternates_the_order_from_round_to_round():
    calls = []

    def runner(name):
        def run_block(block):
            calls.append((name, block))
            return 10 * len(calls)
        return run_block

    results = interleaved.interleave({"a": runner("a"), "b": runner("b")}, rounds=3, block=4)
    assert calls == [("a", 4), ("b", 4), ("b", 4), ("a", 4), ("a", 4), ("b", 4)]
    assert results == {"a": [10, 40, 50], "b": [20, 30, 60]}


def _children():
    """Hand-made results of the two children of one workload (ms/step of 3 rounds)."""
    with_reference = {"ms_per_step": {"minigrad": [2.0, 3.0, 4.0], "reference": [1.0, 1.0, 2.0]},
                      "page_faults_per_step": {"minigrad": [700.0, 0.0, 650.0], "reference": [0.0, 0.0, 0.0]},
                      "blas": None, "threads_seen": [1]}
    with_pytorch = {"ms_per_step": {"reference": [2.0, 2.0, 2.0], "pytorch": [1.0, 4.0, 1.0]},
                    "page_faults_per_step": {"reference": [0.0, 0.0, 0.0], "pytorch": [3.0, 2.0, 1.0]},
                    "blas": None, "threads_seen": [1]}
    return with_reference, with_pytorch


def test_interleaved_row_chains_minigrad_over_pytorch_through_the_reference():
    with_reference, with_pytorch = _children()
    row = interleaved.interleaved_row("mlp", 1, with_reference, with_pytorch)
    # minigrad/reference per round: 2, 3, 2; reference/PyTorch: 2, 0.5, 2; their products 4, 1.5, 4
    assert row["minigrad_over_reference"] == {"median": 2.0, "min": 2.0, "max": 3.0, "rounds": [2.0, 3.0, 2.0]}
    assert row["reference_over_pytorch"] == {"median": 2.0, "min": 0.5, "max": 2.0, "rounds": [2.0, 0.5, 2.0]}
    assert row["minigrad_over_pytorch"] == {"median": 4.0, "min": 1.5, "max": 4.0, "rounds": [4.0, 1.5, 4.0]}
    assert row["ms_per_step"]["pytorch"]["median"] == 1.0
    faults = row["page_faults_per_step"]
    assert (faults["minigrad"]["median"], faults["reference"]["max"], faults["pytorch"]["median"]) == (650, 0, 2)
    assert (row["target_minigrad_over_reference"], row["target_minigrad_over_pytorch"]) == targets.TARGETS["mlp"]
    assert "errors" not in row

    alone = interleaved.interleaved_row("mlp", 1, with_reference, None)
    assert "minigrad_over_pytorch" not in alone and "reference_over_pytorch" not in alone and "errors" not in alone
    failed = interleaved.interleaved_row("mlp", 1, with_reference, {"error": "exit code 1: boom"})
    assert failed["errors"] == ["reference + pytorch: exit code 1: boom"]
    assert "minigrad_over_pytorch" not in failed and failed["minigrad_over_reference"]["median"] == 2.0


def _interleaved_report(rows: list) -> dict:
    meta = {"date": "today", "cpu": "a CPU", "cpu_count": 2, "load_average_at_start": [0.5, 0.5, 0.5],
            "quick": False, "skipped": [], "openblas_overrides_removed": {}, "rounds": 3, "block": 10,
            "warmup": 5, "malloc_environment": dict(children.STEADY_MALLOC)}
    return {"meta": meta, "interleaved": rows}


def test_interleaved_table_shows_median_range_target_and_verdict():
    with_reference, with_pytorch = _children()
    row = interleaved.interleaved_row("mlp", 1, with_reference, with_pytorch)
    text = format_interleaved(_interleaved_report([row]))
    assert "| workload | minigrad/reference | target | minigrad/PyTorch | target | reference/PyTorch |" in text
    assert "| mlp | 2.00 [2.00-3.00] | <= 1.1 MISS | 4.00 [1.50-4.00] | <= 1.0 MISS | 2.00 [0.50-2.00] |" in text
    assert "Minor page faults per step, median (minigrad / reference / pytorch): mlp 650 / 0 / 2" in text
    assert "children's malloc: MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=67108864" in text

    met = {"ms_per_step": {"minigrad": [1.0, 1.0, 1.0], "reference": [1.0, 1.0, 1.25]},
           "page_faults_per_step": {"minigrad": [0.0] * 3, "reference": [0.0] * 3}, "blas": None,
           "threads_seen": [1]}
    text = format_interleaved(_interleaved_report([interleaved.interleaved_row("cnn", 1, met, None)]))
    assert "| cnn | 1.00 [0.80-1.00] | <= 1.1 ok |" in text
    assert "PyTorch" not in text  # without PyTorch, no PyTorch columns


def test_engine_row_turns_block_seconds_into_ops_per_second():
    child = {"shape": [8, 32], "links": 100, "chains_per_block": 2, "ops_per_block": 600,
             "seconds": {"minigrad": [[0.002, 0.01], [0.004, 0.02], [0.003, 0.012]],
                         "pytorch": [[0.001, 0.005], [0.001, 0.005], [0.002, 0.004]]}}
    row = interleaved.engine_row(child)
    assert row["ops_per_second"]["minigrad"]["median"] == 50_000  # 600 ops in 0.012 s
    assert (row["ops_per_second"]["minigrad"]["min"], row["ops_per_second"]["minigrad"]["max"]) == (30_000, 60_000)
    assert row["forward_ops_per_second"]["minigrad"]["median"] == 200_000  # 600 ops in 0.003 s
    assert row["minigrad_over_pytorch_time"]["rounds"] == [2.0, 4.0, 3.0]
    minigrad_alone = {**child, "seconds": {"minigrad": child["seconds"]["minigrad"]}}
    assert "minigrad_over_pytorch_time" not in interleaved.engine_row(minigrad_alone)
    text = "\n".join(_engine_lines(row))
    assert "| minigrad | 50,000 [30,000-60,000] | >= 100,000 MISS | 200,000 [150,000-300,000] |" in text
    assert "| minigrad/PyTorch, time per op | 3.00 [2.00-4.00] | | |" in text


@pytest.mark.parametrize(("argv", "message"), [
    (["--interleaved", "--implementations", "minigrad", "pytorch"], "--interleaved needs minigrad and reference"),
    (["--interleaved", "--rounds", "0"], "--rounds, --block and --threads must be >= 1"),
    (["--interleaved", "--block", "0"], "--rounds, --block and --threads must be >= 1"),
])
def test_interleaved_options_are_checked(argv, message, capsys):
    with pytest.raises(SystemExit):
        run.parse_args(argv)
    assert message in capsys.readouterr().err


def test_interleaved_defaults():
    args = run.parse_args(["--interleaved"])
    assert (args.rounds, args.block, args.threads) == (9, 10, [1, 2])
    quick = run.parse_args(["--interleaved", "--quick"])
    assert (quick.rounds, quick.block, quick.warmup, quick.threads) == (3, 2, 1, [1])


def test_interleaved_children_get_steady_malloc_thresholds_and_the_separate_ones_do_not():
    assert children.malloc_environment(run.parse_args(["--interleaved"])) == children.STEADY_MALLOC
    assert children.malloc_environment(run.parse_args(["--interleaved", "--default-malloc"])) == {}
    assert children.malloc_environment(run.parse_args([])) == {}  # peak RSS is measured there
    env = children.child_environment(2, keep_openblas_env=False, malloc=children.STEADY_MALLOC)
    assert env["MALLOC_TRIM_THRESHOLD_"] == str(64 * 2**20) and env["OPENBLAS_NUM_THREADS"] == "2"


def _positive_and_finite(spread: dict) -> bool:
    """Every per-round value and the summary are positive numbers, the median inside the range."""
    values = [spread["median"], spread["min"], spread["max"], *spread["rounds"]]
    in_order = spread["min"] <= spread["median"] <= spread["max"]
    return in_order and all(np.isfinite(value) and value > 0 for value in values)


@pytest.mark.skipif(_fashion_mnist() is None, reason="Fashion-MNIST is not on this machine (the runner needs it)")
def test_quick_interleaved_run_writes_the_documented_json(tmp_path):
    """``run.py --interleaved --quick`` on rnn, minigrad beside the reference (PyTorch left
    out: its import alone takes seconds), with the engine-overhead row. rnn because, with
    glibc's default thresholds, its minigrad steps fault hundreds of pages in anew each."""
    out = tmp_path / "interleaved.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--interleaved", "--quick", "--workloads", "rnn",
               "--implementations", "minigrad", "reference", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| workload | minigrad/reference | target |\n" in done.stdout and "| rnn | " in done.stdout
    assert "| minigrad | " in done.stdout  # the engine-overhead table

    report = json.loads(out.read_text())
    assert set(report) == {"meta", "interleaved", "engine_overhead"}
    meta = report["meta"]
    assert meta["mode"] == "interleaved" and meta["quick"] is True and (meta["rounds"], meta["block"]) == (3, 2)
    (row,) = report["interleaved"]
    assert row["workload"] == "rnn" and row["threads"] == 1 and "errors" not in row
    assert len(row["minigrad_over_reference"]["rounds"]) == 3 and _positive_and_finite(row["minigrad_over_reference"])
    assert set(row["ms_per_step"]) == {"minigrad", "reference"}
    assert all(_positive_and_finite(spread) for spread in row["ms_per_step"].values())
    assert "minigrad_over_pytorch" not in row and row["target_minigrad_over_reference"] == 1.15
    assert row["threads_seen"]["minigrad + reference"] in ([1], [])  # []: threadpoolctl not installed
    assert meta["malloc_environment"] == children.STEADY_MALLOC
    if sys.platform == "linux":  # glibc: with the thresholds pinned, no step maps its arrays in anew
        assert row["page_faults_per_step"]["minigrad"]["median"] < 50, row["page_faults_per_step"]
    engine = report["engine_overhead"]
    assert set(engine["ops_per_second"]) == {"minigrad"} and _positive_and_finite(engine["ops_per_second"]["minigrad"])
    assert engine["shape"] == [8, 32] and engine["ops_per_block"] == 3 * engine["links"] * engine["chains_per_block"]


# -------------------------------------------------------------------------------------
# search_rate.py: its options, its alternation and its arithmetic on hand-made searches
# (a real run takes minutes; `python benchmarks/search_rate.py --quick` takes ~20 s)


def _search(workers: int, wall: float, phase: float, trial_seconds: list, best: float = 0.8,
            distinct: int | None = None) -> dict:
    return {"workers": workers, "wall_seconds": wall, "trial_phase_seconds": phase,
            "finished_trials": len(trial_seconds), "trial_seconds": trial_seconds,
            "best_validation_accuracy": best, "distinct_configurations": distinct or len(trial_seconds)}


def test_search_rate_defaults_and_quick():
    args = search_rate.parse_args([])
    assert (args.rounds, args.workers, args.trials, args.epochs, args.limit) == (9, [1, 2], 8, 2, 30000)
    assert args.threads is None and args.out.name == "search_rate.json"
    quick = search_rate.parse_args(["--quick", "--rounds", "7"])
    assert (quick.rounds, quick.trials, quick.epochs, quick.limit) == (1, 2, 1, 600)


@pytest.mark.parametrize(("argv", "message"), [
    (["--rounds", "0"], "expected a whole number >= 1, got 0"),
    (["--trials", "two"], "expected a whole number >= 1, got 'two'"),
    (["--workers", "1", "1"], "--workers: each count once, got 1 1"),
])
def test_search_rate_options_are_checked(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        search_rate.parse_args(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_search_rate_reverses_the_order_every_other_round(monkeypatch, tmp_path):
    calls = []

    def fake_search(workers, args, folder):
        calls.append(workers)
        return _search(workers, 10.0, 9.0, [1.0])

    monkeypatch.setattr(search_rate, "one_search", fake_search)
    args = search_rate.parse_args(["--rounds", "3"])
    rounds = search_rate.run_rounds(args, tmp_path, say=lambda text: None)
    assert calls == [1, 2, 2, 1, 1, 2]
    assert [one["order"] for one in rounds] == [[1, 2], [2, 1], [1, 2]]


def test_search_rate_summary_takes_the_ratio_within_each_round():
    """8 trials in 80, 100 and 90 s with 1 worker (360, 288 and 320 per hour), in 50, 60
    and 45 s with 2 (576, 480 and 640): ratios 1.6, 1.667 and 2.0 round by round."""
    eight = [4.0] * 8
    rounds = [{"order": [1, 2], "searches": {1: _search(1, 80.0, 72.0, eight), 2: _search(2, 50.0, 48.0, [6.0] * 8)}},
              {"order": [2, 1], "searches": {1: _search(1, 100.0, 96.0, eight), 2: _search(2, 60.0, 57.6, [7.0] * 8)}},
              {"order": [1, 2], "searches": {1: _search(1, 90.0, 80.0, eight),
                                             2: _search(2, 45.0, 40.0, [5.0] * 8, distinct=6)}}]
    one, two = search_rate.summarize(rounds, [1, 2])
    assert one["trials_per_hour"] == {"median": 320.0, "min": 288.0, "max": 360.0, "rounds": [360.0, 288.0, 320.0]}
    assert one["speed_over_baseline"] is None
    assert two["trials_per_hour"]["median"] == 576.0
    assert two["speed_over_baseline"] == {"median": 1.6667, "min": 1.6, "max": 2.0, "rounds": [1.6, 1.6667, 2.0]}
    assert two["trials_per_hour_trial_phase"]["median"] == 600.0  # 8 trials in 48, 57.6 and 40 s: 600, 500 and 720 per hour
    assert two["seconds_per_trial"]["median"] == 6.0
    assert two["best_validation_accuracy"]["median"] == 0.8

    report = {"meta": {"date": "today", "cpu": "", "cpu_count": 2, "load_average_at_start": [1.0, 2.0, 3.0],
                       "load_average_at_end": None, "trials": 8, "epochs": 2, "limit": 6000, "rounds": 3,
                       "workers": [1, 2], "threads": None, "quick": False},
              "rows": [one, two]}
    table = search_rate.format_table(report)
    assert "load average at start 1.0 2.0 3.0, at end unknown" in table
    assert "| 1 | 320 [288-360] | 1 (baseline) |" in table
    assert "| 2 | 576 [480-640] | 1.67 [1.60-2.00] | 600 [500-720] | 6.00 [5.00-7.00] | 0.8000 |" in table
    assert "2 worker(s): 8 [6-8] distinct configurations in 8 trials" in table
    assert "1 worker(s):" not in table  # every 1-worker search ran 8 distinct points
