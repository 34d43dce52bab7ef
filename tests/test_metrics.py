"""accuracy, confusion_matrix, classification_report, format_report: against loops and
formulas written here (and scikit-learn when it happens to be installed)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.metrics import accuracy, classification_report, confusion_matrix, format_report

try:
    import sklearn.metrics as sk_metrics
except ImportError:  # an optional oracle, never a dependency
    sk_metrics = None


def random_labels(n=200, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, classes, n)
    # mostly right, so precision and recall are far from 0 and from each other
    preds = np.where(rng.random(n) < 0.6, targets, rng.integers(0, classes, n))
    return preds, targets


def safe_ratio(a, b):
    return a / b if b else 0.0


# -- accuracy ----------------------------------------------------------------------------


def test_accuracy_of_predictions():
    preds, targets = random_labels()
    expected = sum(int(p == t) for p, t in zip(preds, targets)) / len(targets)
    assert accuracy(preds, targets) == pytest.approx(expected)
    assert accuracy(mg.tensor(preds), mg.tensor(targets)) == pytest.approx(expected)
    assert accuracy(mg.tensor(preds), targets) == pytest.approx(expected)
    assert isinstance(accuracy(preds, targets), float)


def test_accuracy_of_logits_takes_the_argmax():
    logits = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5], [0.0, 0.1, 0.2], [5.0, 4.0, 6.0]], np.float32)
    targets = np.array([1, 0, 0, 2])
    # by hand: row-wise largest are 1, 0, 2, 2 -> three of four right
    assert accuracy(logits, targets) == pytest.approx(3 / 4)
    assert accuracy(mg.tensor(logits, requires_grad=True), mg.tensor(targets)) == pytest.approx(3 / 4)


def test_metrics_accept_tensors_on_any_device(device):
    preds, targets = random_labels(50, 4)
    logits = np.eye(4, dtype=np.float32)[preds]
    on_device = mg.tensor(logits, device=device), mg.tensor(targets, device=device)
    assert accuracy(*on_device) == accuracy(preds, targets)
    np.testing.assert_array_equal(confusion_matrix(*on_device, 4), confusion_matrix(preds, targets, 4))
    assert classification_report(*on_device) == classification_report(preds, targets)


def test_accuracy_errors():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        accuracy(np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        accuracy(np.zeros((2, 5)), np.zeros(3, int))  # two rows of logits, three targets
    with pytest.raises(ValueError):
        accuracy(np.zeros((2, 2, 2)), np.zeros(2, int))
    with pytest.raises(ValueError):
        accuracy(np.zeros(0, int), np.zeros(0, int))


# -- confusion matrix --------------------------------------------------------------------


def test_confusion_matrix_matches_a_loop():
    preds, targets = random_labels(300, 6, seed=1)
    expected = np.zeros((7, 7), np.int64)  # one class more than appears: an empty row and column
    for p, t in zip(preds, targets):
        expected[t, p] += 1
    got = confusion_matrix(preds, targets, 7)
    assert got.dtype == np.int64 and got.shape == (7, 7)
    np.testing.assert_array_equal(got, expected)
    assert got.sum() == len(targets)
    np.testing.assert_array_equal(confusion_matrix(mg.tensor(preds), mg.tensor(targets), 7), expected)


def test_confusion_matrix_rows_are_true_classes():
    # two examples of class 0 predicted as 1: the count sits in row 0, column 1
    got = confusion_matrix(np.array([1, 1, 2]), np.array([0, 0, 2]), 3)
    assert got[0, 1] == 2 and got[1, 0] == 0 and got[2, 2] == 1


def test_confusion_matrix_of_logits():
    preds, targets = random_labels(40, 3)
    logits = np.eye(3, dtype=np.float32)[preds] * 2 - 1
    np.testing.assert_array_equal(confusion_matrix(logits, targets, 3), confusion_matrix(preds, targets, 3))


@pytest.mark.skipif(sk_metrics is None, reason="scikit-learn is not installed (optional cross-check)")
def test_confusion_matrix_matches_sklearn():
    preds, targets = random_labels(300, 6, seed=2)
    expected = sk_metrics.confusion_matrix(targets, preds, labels=list(range(6)))
    np.testing.assert_array_equal(confusion_matrix(preds, targets, 6), expected)


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match="7"):
        confusion_matrix(np.array([0, 7]), np.array([0, 1]), 3)
    with pytest.raises(ValueError, match="-1"):
        confusion_matrix(np.array([0, 1]), np.array([-1, 1]), 3)
    with pytest.raises(ValueError, match="3"):
        confusion_matrix(np.array([0, 1]), np.array([3, 1]), 3)
    for bad in (0, -2, 2.0, True):
        with pytest.raises(ValueError, match="num_classes"):
            confusion_matrix(np.array([0]), np.array([0]), bad)
    with pytest.raises(ValueError):
        confusion_matrix(np.array([0, 1, 1]), np.array([0, 1]), 3)
    with pytest.raises(TypeError):
        confusion_matrix(np.array([0.0, 1.0]), np.array([0, 1]), 3)


# -- classification report ---------------------------------------------------------------


def expected_report(preds, targets, num_classes):
    """The report from the definitions, one class at a time, with plain Python counts."""
    rows = {}
    for c in range(num_classes):
        tp = sum(1 for p, t in zip(preds, targets) if p == c and t == c)
        fp = sum(1 for p, t in zip(preds, targets) if p == c and t != c)
        fn = sum(1 for p, t in zip(preds, targets) if p != c and t == c)
        precision, recall = safe_ratio(tp, tp + fp), safe_ratio(tp, tp + fn)
        rows[c] = {
            "precision": precision,
            "recall": recall,
            "f1": safe_ratio(2 * precision * recall, precision + recall),
            "support": tp + fn,
        }
    return rows


def assert_row(got, expected):
    assert set(got) == {"precision", "recall", "f1", "support"}
    for key in ("precision", "recall", "f1"):
        assert got[key] == pytest.approx(expected[key]), key
        assert isinstance(got[key], float)
    assert got["support"] == expected["support"] and isinstance(got["support"], int)


def test_report_matches_the_formulas():
    preds, targets = random_labels(300, 5, seed=3)
    report = classification_report(preds, targets)
    expected = expected_report(preds, targets, 5)
    assert list(report) == ["0", "1", "2", "3", "4", "accuracy", "macro avg", "weighted avg"]
    for c in range(5):
        assert_row(report[str(c)], expected[c])
    n = len(targets)
    assert report["accuracy"] == pytest.approx(np.mean(preds == targets))
    for key in ("precision", "recall", "f1"):
        values = [expected[c][key] for c in range(5)]
        supports = [expected[c]["support"] for c in range(5)]
        assert report["macro avg"][key] == pytest.approx(sum(values) / 5)
        assert report["weighted avg"][key] == pytest.approx(sum(v * s for v, s in zip(values, supports)) / n)
    assert report["macro avg"]["support"] == report["weighted avg"]["support"] == n


def test_report_division_by_zero_gives_zero():
    # class 2 is never predicted (precision 0/0) and class 3 never occurs (recall 0/0);
    # class 1 is predicted but never right (precision 0, recall 0, so f1 is 0/0)
    targets = np.array([0, 0, 1, 2, 2])
    preds = np.array([0, 1, 0, 0, 3])
    report = classification_report(preds, targets)
    assert list(report)[:4] == ["0", "1", "2", "3"]
    assert report["2"]["precision"] == 0.0 and report["2"]["recall"] == 0.0
    assert report["3"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report["1"]["f1"] == 0.0
    for c, row in expected_report(preds, targets, 4).items():
        assert_row(report[str(c)], row)
    assert all(np.isfinite(v) for row in report.values() if isinstance(row, dict) for v in row.values())


def test_report_with_class_names_and_logits():
    names = ("T-shirt/top", "Trouser", "Pullover", "Dress")
    preds, targets = random_labels(120, 3, seed=4)  # class 3 never occurs: still reported
    logits = np.eye(4, dtype=np.float32)[preds]
    report = classification_report(mg.tensor(logits), mg.tensor(targets), class_names=names)
    assert list(report)[:4] == list(names)
    expected = expected_report(preds, targets, 4)
    for c, name in enumerate(names):
        assert_row(report[name], expected[c])
    assert report["Dress"]["support"] == 0


@pytest.mark.skipif(sk_metrics is None, reason="scikit-learn is not installed (optional cross-check)")
def test_report_matches_sklearn():
    preds, targets = random_labels(300, 5, seed=5)
    ours = classification_report(preds, targets)
    theirs = sk_metrics.classification_report(targets, preds, output_dict=True, zero_division=0)
    for name in ["0", "1", "2", "3", "4", "macro avg", "weighted avg"]:
        assert ours[name]["precision"] == pytest.approx(theirs[name]["precision"])
        assert ours[name]["recall"] == pytest.approx(theirs[name]["recall"])
        assert ours[name]["f1"] == pytest.approx(theirs[name]["f1-score"])
    assert ours["accuracy"] == pytest.approx(theirs["accuracy"])


def test_report_errors():
    with pytest.raises(ValueError):
        classification_report(np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match="5"):  # a label beyond the named classes
        classification_report(np.array([0, 5]), np.array([0, 1]), class_names=["a", "b"])
    with pytest.raises(ValueError, match="a"):
        classification_report(np.array([0, 1]), np.array([0, 1]), class_names=["a", "a"])
    with pytest.raises(ValueError, match="accuracy"):
        classification_report(np.array([0, 1]), np.array([0, 1]), class_names=["accuracy", "b"])
    with pytest.raises(ValueError):
        classification_report(np.zeros(0, int), np.zeros(0, int))


# -- format_report -----------------------------------------------------------------------


@pytest.mark.parametrize("digits", [2, 4])
def test_format_report_is_a_consistent_table(digits):
    names = ["T-shirt/top", "Trouser", "Bag"]
    preds, targets = random_labels(90, 3, seed=6)
    report = classification_report(preds, targets, class_names=names)
    text = format_report(report, digits=digits)
    lines = text.rstrip("\n").split("\n")
    assert re.split(r"\s+", lines[0].strip()) == ["precision", "recall", "f1", "support"]
    number = rf"\d+\.\d{{{digits}}}"
    rows = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        match = re.fullmatch(rf"\s*(.+?)((?:\s+{number})+)\s+(\d+)", line)
        assert match, f"row not in the table's format: {line!r}"
        rows[match.group(1)] = ([float(v) for v in match.group(2).split()], int(match.group(3)))
    assert list(rows) == [*names, "accuracy", "macro avg", "weighted avg"]
    for name in [*names, "macro avg", "weighted avg"]:
        values, support = rows[name]
        wanted = [round(report[name][k], digits) for k in ("precision", "recall", "f1")]
        assert values == pytest.approx(wanted, abs=10**-digits)
        assert support == report[name]["support"]
    assert rows["accuracy"][0] == pytest.approx([report["accuracy"]], abs=10**-digits)
    assert rows["accuracy"][1] == len(targets)
    # fixed width: every row (header included) ends in the same column, the f1 and
    # accuracy values too, and a blank line separates the header, classes and summary
    table_rows = [line for line in lines if line.strip()]
    assert len({len(line) for line in table_rows}) == 1
    accuracy_line = next(line for line in lines if line.strip().startswith("accuracy"))
    f1_end = lines[0].index("f1") + 2
    assert accuracy_line[:f1_end].rstrip().endswith(f"{report['accuracy']:.{digits}f}")
    assert lines[1] == "" and lines[2 + len(names)] == ""
