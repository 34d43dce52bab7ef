"""Drawing computation graphs, for the lessons. matplotlib is imported only when you draw.

Two steps, so that any graph can be drawn, not only minigrad's:

* ``draw_graph(nodes, edges, labels, ops)`` draws a directed graph left to right: every
  edge ``(a, b)`` means "a is an input of b", so inputs sit on the left and the output
  on the right. Nodes in ``ops`` are drawn as ellipses (operations), the others as boxes
  (values). A lesson's own scalar engine passes its nodes here directly.
* ``tensor_graph(output)`` walks a minigrad graph backwards from ``output``, through
  ``tensor._node`` and each node's ``edges``, and returns ``(nodes, edges, labels, ops)``
  for ``draw_graph``. ``draw_tensor_graph(output)`` does both.

Both walk graphs with an explicit stack or queue, never recursion, like the backward
engine (``autograd.run_backward``), so a deep graph cannot hit Python's recursion limit
(drawing thousands of nodes is another matter: keep drawn graphs small).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable


def layers(nodes: Iterable[Hashable], edges: Iterable[tuple]) -> dict:
    """Column of each node, left to right: 1 + the largest column among its inputs (the
    longest path from an input, by Kahn's algorithm: no recursion); a node without
    inputs goes one column left of its first consumer."""
    nodes = list(nodes)
    inputs_left = {node: 0 for node in nodes}
    consumers = {node: [] for node in nodes}
    for a, b in edges:
        consumers[a].append(b)
        inputs_left[b] += 1
    column = {node: 0 for node in nodes}
    sources = [node for node in nodes if inputs_left[node] == 0]
    ready = list(sources)
    while ready:
        node = ready.pop()
        for consumer in consumers[node]:
            column[consumer] = max(column[consumer], column[node] + 1)
            inputs_left[consumer] -= 1
            if inputs_left[consumer] == 0:
                ready.append(consumer)
    if any(count > 0 for count in inputs_left.values()):
        raise ValueError("draw_graph: the graph has a cycle; a computation graph never does")
    # An input (a weight, a constant) sits just left of its first consumer rather than
    # far left, so that its arrow is short. Its consumers have inputs: they are placed.
    for node in sources:
        if consumers[node]:
            column[node] = min(column[c] for c in consumers[node]) - 1
    return column


def draw_graph(nodes, edges, labels=None, ops=(), ax=None, title=None):
    """Draw a small directed acyclic graph left to right and return the matplotlib Axes.

    nodes   hashable node ids, in any order
    edges   pairs ``(a, b)``: a is an input of b (an arrow a -> b)
    labels  dict node -> text (may hold several lines); default ``str(node)``
    ops     the nodes to draw as ellipses (operations); the rest are boxes (values)
    ax      an Axes to draw on; by default a new pyplot figure sized to the graph
    title   the Axes title
    """
    nodes, edges, ops = list(nodes), list(edges), set(ops)
    labels = labels or {}
    column = layers(nodes, edges)
    width = max(column.values(), default=0) + 1
    by_column = [[node for node in nodes if column[node] == c] for c in range(width)]
    # Order each column by the mean height of its inputs, then sweep back by the mean
    # height of its consumers (a Sugiyama-style sweep): fewer crossing arrows.
    inputs_of = {node: [] for node in nodes}
    consumers_of = {node: [] for node in nodes}
    for a, b in edges:
        inputs_of[b].append(a)
        consumers_of[a].append(b)
    row = {}
    for neighbours, order in ((inputs_of, by_column), (consumers_of, by_column[::-1])):
        for members in order:
            members.sort(key=lambda node: _mean_height(neighbours[node], row, row.get(node, 0.0)))
            for i, node in enumerate(members):
                row[node] = i - (len(members) - 1) / 2
    tallest = max(len(members) for members in by_column) if by_column else 1

    if ax is None:
        import matplotlib.pyplot as plt  # lazy: an optional dependency

        _, ax = plt.subplots(figsize=(1.0 + 1.7 * width, 0.6 + 1.0 * tallest))
    spacing = 1.0
    artists = {}
    for node in nodes:
        is_op = node in ops
        artists[node] = ax.text(
            column[node] * 2.0,
            -row[node] * spacing,
            labels.get(node, str(node)),
            ha="center",
            va="center",
            fontsize=9,
            family="monospace",
            bbox={
                "boxstyle": "ellipse,pad=0.3" if is_op else "round,pad=0.4",
                "facecolor": "#fde7c8" if is_op else "#dbe9f6",
                "edgecolor": "#7a5a2c" if is_op else "#2c4a7a",
            },
            zorder=3,
        )
    copies = {}
    for a, b in edges:
        # An arrow between the two label boxes, clipped at their edges; drawn after the
        # boxes (higher zorder) so that the boxes already have their final size. Arrows
        # that skip columns bend over the boxes between; repeated arrows (x * x) fan out.
        copy = copies[(a, b)] = copies.get((a, b), -1) + 1
        span = column[b] - column[a]
        bend = (0.3 / span if span > 1 else 0.0) + 0.25 * ((copy + 1) // 2) * (-1) ** copy
        ax.annotate(
            "",
            xy=(column[b] * 2.0, -row[b] * spacing),
            xytext=(column[a] * 2.0, -row[a] * spacing),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#555555",
                "connectionstyle": f"arc3,rad={bend:.3f}",
                "patchA": artists[a].get_bbox_patch(),
                "patchB": artists[b].get_bbox_patch(),
                "shrinkA": 2,
                "shrinkB": 2,
            },
            zorder=4,
        )
    ax.set_xlim(-1.0, 2.0 * (width - 1) + 1.0)
    ax.set_ylim(-(tallest / 2 + 0.3) * spacing, (tallest / 2 + 0.5) * spacing)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def _mean_height(neighbours, row, default):
    placed = [row[n] for n in neighbours if n in row]
    return sum(placed) / len(placed) if placed else default


def _describe(t, name=None) -> str:
    """A tensor as one or two short lines: its value (one element) or shape, and grad."""
    text = f"{t.item():.4g}" if t.size == 1 else f"shape {tuple(t.shape)}"
    if name:
        text = f"{name} = {text}"
    if t.grad is not None:
        text += f"\ngrad {t.grad.item():.4g}" if t.grad.size == 1 else "\ngrad stored"
    return text


def tensor_graph(output, names=None):
    """The graph that made the minigrad Tensor ``output``, as ``draw_graph`` takes it.

    Vertices are the ``Function`` nodes (ops, labelled with the class name and, while
    the tensor they produced is alive, its value or shape) and the leaf tensors that
    require grad (boxes, with their value and ``.grad``). ``names`` maps tensors to
    names shown in their labels. Inputs that need no gradient were not recorded by the
    graph, so they do not appear. Walks with an explicit stack, never recursion.
    """
    names = names or {}
    if output._node is None:
        return [output], [], {output: _describe(output, names.get(output))}, set()
    nodes, edges, labels, ops = [], [], {}, set()
    seen = {id(output._node)}
    stack = [output._node]
    while stack:
        vertex = stack.pop()
        nodes.append(vertex)
        if hasattr(vertex, "edges"):  # a Function node
            ops.add(vertex)
            produced = vertex.output_ref()
            text = type(vertex).__name__
            if produced is not None:
                text += "\n" + _describe(produced, names.get(produced))
            labels[vertex] = text
            for source, *_ in vertex.edges:
                if source is None:
                    continue
                edges.append((source, vertex))
                if id(source) not in seen:
                    seen.add(id(source))
                    stack.append(source)
        else:  # a leaf tensor
            labels[vertex] = _describe(vertex, names.get(vertex))
    return nodes, edges, labels, ops


def draw_tensor_graph(output, names=None, ax=None, title=None):
    """Draw the graph that made ``output`` (see ``tensor_graph``); returns the Axes."""
    nodes, edges, labels, ops = tensor_graph(output, names)
    return draw_graph(nodes, edges, labels, ops, ax=ax, title=title)
