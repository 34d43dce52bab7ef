r"""How good is a classifier? Accuracy, the confusion matrix, and the per-class report.

All functions take predictions and targets as Tensors (on any device) or NumPy arrays.
Predictions are either class indices, shape (N,), or logits / probabilities, shape
(N, C), in which case the predicted class is the arg max of each row. Targets are class
indices, shape (N,). Metrics are bookkeeping, not part of the model: they work on host
NumPy arrays and carry no gradient.

For class c, count over the N examples:

* TP_c (true positives): predicted c, truly c;
* FP_c (false positives): predicted c, truly another class;
* FN_c (false negatives): truly c, predicted another class.

Then

* precision_c = TP_c / (TP_c + FP_c): of the examples called c, the fraction that are c;
* recall_c    = TP_c / (TP_c + FN_c): of the examples of class c, the fraction found;
* F1_c        = 2 precision_c recall_c / (precision_c + recall_c), their harmonic mean,
  high only when both are;
* support_c   = TP_c + FN_c, the number of examples of class c;
* accuracy    = (sum over c of TP_c) / N.

A ratio whose denominator is 0 (a class never predicted, or absent from the targets) is
reported as 0.0, as scikit-learn does by default. The *macro average* is the plain mean
over classes (every class counts the same, so rare classes weigh in); the *weighted
average* weighs each class by its support (it follows the large classes).

All counts come from the confusion matrix M, M[true, predicted] = number of examples:
TP is its diagonal, TP + FN its row sums, TP + FP its column sums.
"""

from __future__ import annotations

import numpy

from . import backend
from .tensor import Tensor

_SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg")


def _to_host(values) -> numpy.ndarray:
    """A NumPy array for a Tensor (any device), a NumPy/CuPy array or a list."""
    if isinstance(values, Tensor):
        return values.numpy()
    return backend.to_numpy(values)


def _predicted_classes(logits_or_preds) -> numpy.ndarray:
    """Class indices (N,) from predictions (N,) or from logits/probabilities (N, C)."""
    array = _to_host(logits_or_preds)
    if array.ndim == 2:
        return array.argmax(axis=1)
    if array.ndim != 1:
        raise ValueError(
            f"predictions must be class indices of shape (N,) or logits of shape (N, C), got shape {array.shape}"
        )
    return array


def _labels_and_targets(preds, targets) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Predicted and true class indices as two int64 arrays of the same shape (N,)."""
    predicted = _predicted_classes(preds)
    true = _to_host(targets)
    if predicted.shape != true.shape:
        raise ValueError(
            f"predictions and targets must have the same shape, got {predicted.shape} "
            f"(after argmax over logits) and {true.shape}"
        )
    for name, array in (("predictions", predicted), ("targets", true)):
        if array.dtype.kind not in "iu":
            raise TypeError(f"{name} must be integer class indices, got dtype {array.dtype}")
    return predicted.astype(numpy.int64, copy=False), true.astype(numpy.int64, copy=False)


def accuracy(logits_or_preds, targets) -> float:
    """The fraction of examples whose predicted class equals the target (a float)."""
    predicted = _predicted_classes(logits_or_preds)
    true = _to_host(targets)
    if predicted.shape != true.shape:
        raise ValueError(
            f"predictions and targets must have the same shape, got {predicted.shape} "
            f"(after argmax over logits) and {true.shape}"
        )
    if predicted.size == 0:
        raise ValueError("accuracy of no examples is undefined (got empty predictions and targets)")
    return float(numpy.mean(predicted == true))


def confusion_matrix(preds, targets, num_classes: int) -> numpy.ndarray:
    """The (C, C) int64 matrix M with M[t, p] = number of examples of class t predicted p.

    Rows are true classes, columns predictions; the diagonal counts the correct ones.
    Computed with one ``bincount``: the pair (t, p) is given the single number t C + p,
    so counting those numbers counts every cell of the matrix at once (no Python loop).
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, numpy.integer)) or num_classes <= 0:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    predicted, true = _labels_and_targets(preds, targets)
    for name, array in (("prediction", predicted), ("target", true)):
        outside = array[(array < 0) | (array >= num_classes)]
        if outside.size:
            raise ValueError(
                f"{name} label {outside[0]} is out of range for num_classes={num_classes} "
                f"(expected 0 <= label < {num_classes})"
            )
    counts = numpy.bincount(true * num_classes + predicted, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(numpy.int64, copy=False)


def _divide(numerator: numpy.ndarray, denominator: numpy.ndarray) -> numpy.ndarray:
    """numerator / denominator, with 0.0 where the denominator is 0."""
    numerator = numerator.astype(numpy.float64)
    result = numpy.zeros_like(numerator)
    numpy.divide(numerator, denominator, out=result, where=denominator != 0)
    return result


def classification_report(preds, targets, class_names=None) -> dict:
    """Per-class precision, recall, F1 and support, plus accuracy and averages.

    Returns ``{name: {"precision", "recall", "f1", "support"}, ..., "accuracy": float,
    "macro avg": {...}, "weighted avg": {...}}`` with the formulas of the module
    docstring. Class names are ``class_names[c]``, or ``str(c)`` when none are given; the
    number of classes is ``len(class_names)``, or else the largest label seen plus one.
    ``format_report`` prints it as a table.
    """
    predicted, true = _labels_and_targets(preds, targets)
    if true.size == 0:
        raise ValueError("a classification report needs at least one example (got empty inputs)")
    if class_names is None:
        num_classes = int(max(predicted.max(), true.max())) + 1
        names = [str(c) for c in range(num_classes)]
    else:
        names = [str(name) for name in class_names]
        num_classes = len(names)
        clashes = sorted({name for name in names if names.count(name) > 1 or name in _SUMMARY_ROWS})
        if clashes:
            raise ValueError(f"class names must be unique and not one of {_SUMMARY_ROWS}, got {clashes}")
    matrix = confusion_matrix(predicted, true, num_classes)

    true_positives = numpy.diag(matrix)
    support = matrix.sum(axis=1)  # TP + FN: row sums
    predicted_count = matrix.sum(axis=0)  # TP + FP: column sums
    precision = _divide(true_positives, predicted_count)
    recall = _divide(true_positives, support)
    f1 = _divide(2 * precision * recall, precision + recall)

    report = {}
    for c, name in enumerate(names):
        report[name] = {
            "precision": float(precision[c]),
            "recall": float(recall[c]),
            "f1": float(f1[c]),
            "support": int(support[c]),
        }
    total = int(support.sum())
    weights = support / total
    report["accuracy"] = float(true_positives.sum() / total)
    report["macro avg"] = {
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "f1": float(f1.mean()),
        "support": total,
    }
    report["weighted avg"] = {
        "precision": float(weights @ precision),
        "recall": float(weights @ recall),
        "f1": float(weights @ f1),
        "support": total,
    }
    return report


def format_report(report: dict, digits: int = 2) -> str:
    """Render a ``classification_report`` dict as a fixed-width table::

                      precision    recall        f1   support

             T-shirt       0.86      0.85      0.85      1000
             Trouser       0.99      0.97      0.98      1000
        ...
            accuracy                           0.91     10000
           macro avg       0.91      0.91      0.91     10000
        weighted avg       0.91      0.91      0.91     10000

    Numbers are shown with ``digits`` decimals, names right-aligned.
    """
    class_names = [name for name in report if name not in _SUMMARY_ROWS]
    width = max(len(name) for name in [*class_names, *_SUMMARY_ROWS])
    columns = ("precision", "recall", "f1", "support")
    column = max(9, digits + 3)  # wide enough for "precision" and for 1.000...

    def row(name: str, values: dict) -> str:
        numbers = "".join(f" {values[key]:>{column}.{digits}f}" for key in columns[:3])
        return f"{name:>{width}} {numbers} {values['support']:>{column}}"

    lines = [f"{'':>{width}} " + "".join(f" {heading:>{column}}" for heading in columns), ""]
    lines += [row(name, report[name]) for name in class_names]
    lines.append("")
    support = report["macro avg"]["support"]
    blank = " " * (2 * (column + 1))
    lines.append(
        f"{'accuracy':>{width}} {blank} {report['accuracy']:>{column}.{digits}f} {support:>{column}}"
    )
    lines += [row(name, report[name]) for name in ("macro avg", "weighted avg")]
    return "\n".join(lines) + "\n"
