"""Auto-layout: a layered left-to-right arrangement from the graph's topological generations (networkx)."""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx

from artfactory.engine.document import GraphDocument

COLUMN_GAP = 70.0
ROW_GAP = 36.0
DEFAULT_SIZE = (220.0, 120.0)


def layered_positions(doc: GraphDocument, sizes: Mapping[str, tuple[float, float]],
                      origin: tuple[float, float] = (0.0, 0.0)) -> dict[str, tuple[float, float]]:
    """Top-left positions: one column per generation, each column centred on the tallest one.

    Within a column, nodes keep the order of their first parent's row, so links cross less.
    A graph with a cycle (invalid, but it can be edited) falls back to document order.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(n.id for n in doc.nodes)
    graph.add_edges_from((e.source, e.target) for e in doc.edges
                         if e.source in graph and e.target in graph and e.source != e.target)
    try:
        generations = [list(g) for g in nx.topological_generations(graph)]
    except nx.NetworkXUnfeasible:
        generations = [[n.id for n in doc.nodes]]
    order = {n.id: i for i, n in enumerate(doc.nodes)}
    row_of: dict[str, float] = {}
    columns: list[list[str]] = []
    for generation in generations:
        def key(node_id: str) -> tuple[float, int]:
            parents = [row_of[p] for p in graph.predecessors(node_id) if p in row_of]
            return (min(parents) if parents else -1.0, order[node_id])

        column = sorted(generation, key=key)
        for row, node_id in enumerate(column):
            row_of[node_id] = float(row)
        columns.append(column)

    def size(node_id: str) -> tuple[float, float]:
        return sizes.get(node_id, DEFAULT_SIZE)

    heights = [sum(size(n)[1] for n in col) + ROW_GAP * max(0, len(col) - 1) for col in columns]
    tallest = max(heights, default=0.0)
    positions: dict[str, tuple[float, float]] = {}
    x = origin[0]
    for column, height in zip(columns, heights, strict=True):
        y = origin[1] + (tallest - height) / 2
        width = max((size(n)[0] for n in column), default=DEFAULT_SIZE[0])
        for node_id in column:
            positions[node_id] = (round(x, 1), round(y, 1))
            y += size(node_id)[1] + ROW_GAP
        x += width + COLUMN_GAP
    return positions
