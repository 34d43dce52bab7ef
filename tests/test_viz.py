"""viz draws graphs headless (Agg backend); skipped when matplotlib is not installed."""

from __future__ import annotations

import pytest

import minigrad
from minigrad import viz

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_layers_put_each_input_just_left_of_its_first_consumer_and_reject_cycles():
    column = viz.layers(["x", "y", "mul", "z", "add"], [("x", "mul"), ("y", "mul"), ("mul", "add"), ("z", "add")])
    assert column == {"x": 0, "y": 0, "mul": 1, "z": 1, "add": 2}
    with pytest.raises(ValueError, match="cycle"):
        viz.layers("ab", [("a", "b"), ("b", "a")])


def test_draw_graph_of_plain_nodes(tmp_path):
    ax = viz.draw_graph(
        ["a", "b", "*", "c"], [("a", "*"), ("b", "*"), ("*", "c")],
        labels={"a": "a = 2\ngrad 3", "c": "c = 6"}, ops={"*"}, title="c = a * b",
    )
    assert ax.get_title() == "c = a * b"
    assert {text.get_text() for text in ax.texts} >= {"a = 2\ngrad 3", "b", "*", "c = 6"}
    ax.figure.savefig(tmp_path / "graph.png")
    assert (tmp_path / "graph.png").stat().st_size > 0
    matplotlib.pyplot.close(ax.figure)


def test_tensor_graph_walks_a_minigrad_graph_without_recursion(tmp_path):
    x = minigrad.tensor(2.0, requires_grad=True)
    w = minigrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * w).tanh().sum()
    y.backward()
    nodes, edges, labels, ops = viz.tensor_graph(y, names={x: "x", w: "w"})
    assert sorted(type(op).__name__ for op in ops) == ["Mul", "Sum", "Tanh"]
    assert labels[x] == f"x = 2\ngrad {x.grad.item():.4g}"
    assert labels[w] == "w = shape (3,)\ngrad stored"
    assert len(nodes) == 5 and len(edges) == 4
    ax = viz.draw_tensor_graph(y, names={x: "x", w: "w"}, title="y = sum(tanh(x * w))")
    ax.figure.savefig(tmp_path / "tensor_graph.png")
    matplotlib.pyplot.close(ax.figure)

    deep = x
    for _ in range(3000):  # deeper than Python's default recursion limit
        deep = deep * 1.0
    nodes, edges, _, _ = viz.tensor_graph(deep)
    assert len(nodes) == 3001 and len(edges) == 3000
    assert max(viz.layers(nodes, edges).values()) == 3000


def test_a_leaf_alone_is_one_box():
    x = minigrad.tensor(1.5)
    nodes, edges, labels, ops = viz.tensor_graph(x, names={x: "x"})
    assert nodes == [x] and edges == [] and labels[x] == "x = 1.5" and not ops
