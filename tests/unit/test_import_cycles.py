"""The artfactory modules import one another without circles (issue 11 item 4)."""

from __future__ import annotations

import grimp
import networkx as nx

PACKAGE = "artfactory"


def import_graph() -> nx.DiGraph:
    """Module -> modules it imports, within the package; grimp counts function-level and TYPE_CHECKING imports too."""
    graph = grimp.build_graph(PACKAGE)
    edges = nx.DiGraph()
    for module in graph.modules:
        edges.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported == PACKAGE or imported.startswith(PACKAGE + "."):
                edges.add_edge(module, imported)
    return edges


def test_the_package_imports_form_a_dag() -> None:
    edges = import_graph()
    assert len(edges) > 50  # the whole package was read, not an empty graph
    cycles = sorted(sorted(c) for c in nx.simple_cycles(edges))
    assert cycles == [], "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_former_mixin_circles_point_one_way() -> None:
    """Each pair that was a `self: Host` mixin circle now has one direction only (the helper is lower)."""
    edges = import_graph()
    for upper, lower in [
        ("artfactory.views.main_window", "artfactory.views.window_files"),
        ("artfactory.views.main_window", "artfactory.views.actions"),
        ("artfactory.views.canvas.graph_view", "artfactory.views.canvas.gestures"),
        ("artfactory.views.canvas.gestures", "artfactory.views.canvas.node_menu"),
        ("artfactory.controllers.graph_controller", "artfactory.controllers.commands"),
    ]:
        assert edges.has_edge(upper, lower), (upper, lower)
        assert not nx.has_path(edges, lower, upper), f"{lower} reaches back to {upper}"
