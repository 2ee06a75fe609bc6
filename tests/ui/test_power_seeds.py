"""Seed control in the app: fixed / random each run / increment beside the seed field, the dice, the last seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtWidgets import QApplication

from artfactory.engine.document import EdgeSpec, GraphDocument, NodeSpec
from artfactory.engine.plan import build_plan
from artfactory.services.library import Library
from artfactory.views.main_window import MainWindow
from tests.support.qt import opened_window

pytestmark = pytest.mark.filterwarnings("ignore:distutils Version classes are deprecated:DeprecationWarning")


@pytest.fixture
def window(qtbot: Any, library: Library) -> Iterator[MainWindow]:
    with opened_window(qtbot, library) as win:
        yield win


def pair(seed: int = 5) -> GraphDocument:
    return GraphDocument(name="seeds", nodes=[
        NodeSpec("prompt", "prompt.text", {"text": "a red fox"}),
        NodeSpec("gen", "provider.local", {"seed": seed, "width": 64, "height": 64}),
    ], edges=[EdgeSpec("prompt", "text", "gen", "prompt")],
        meta={"canvas": {"prompt": {"pos": [0, 0]}, "gen": {"pos": [320, 0]}}})


def open_tab(win: MainWindow, doc: GraphDocument) -> Any:
    tab = win.add_graph(win.app.new_graph(doc))
    QApplication.processEvents()
    tab.view.select(["gen"])
    QApplication.processEvents()
    return tab


def run(qtbot: Any, win: MainWindow, tab: Any) -> tuple[str, list[str]]:
    """Run the graph; the generator's status and products."""
    assert win.run_graph()
    qtbot.waitUntil(lambda: not tab.controller.run_state.running, timeout=30_000)
    state = tab.controller.run_state.get("gen")
    return str(state.status), [p for p, _ in state.products]


def choose_mode(win: MainWindow, mode: str) -> None:
    combo = win.properties.seed.mode
    index = combo.findData(mode)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)  # what a user's pick sends


def test_the_seed_field_has_mode_dice_and_last_seed_only_where_a_seed_is(window: MainWindow) -> None:
    tab = open_tab(window, pair())
    seed = window.properties.seed
    assert seed is not None
    assert [seed.mode.itemText(i) for i in range(seed.mode.count())] == ["fixed", "random each run", "increment"]
    assert seed.mode.currentData() == "fixed" and seed.last.text() == ""
    tab.view.select(["prompt"])
    QApplication.processEvents()
    assert window.properties.seed is None  # a prompt has no seed


def test_fixed_returns_the_cached_image_and_random_each_run_makes_a_new_one(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, pair())
    graph = tab.controller
    first = run(qtbot, window, tab)
    assert first[0] == "executed" and len(first[1]) == 1
    assert run(qtbot, window, tab) == ("cached", first[1])  # fixed: the same image from the cache

    choose_mode(window, "random")
    assert graph.doc.meta["canvas"]["gen"]["seed_mode"] == "random"
    second = run(qtbot, window, tab)
    third = run(qtbot, window, tab)
    assert second[0] == third[0] == "executed"
    assert len({first[1][0], second[1][0], third[1][0]}) == 3  # a new image per Run
    assert graph.doc.node("gen").params["seed"] == 5  # the document's seed stays concrete
    assert window.properties.seed.last.text() == f"last run: {graph.last_seeds['gen']}"
    assert graph.last_seeds["gen"] != 5

    graph.undo_stack.undo()  # the mode change is an edit like any other
    assert "seed_mode" not in graph.doc.meta["canvas"]["gen"]
    assert window.properties.seed.mode.currentData() == "fixed"


def test_increment_bumps_the_seed_after_each_run_undoably(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, pair(seed=41))
    graph = tab.controller
    choose_mode(window, "increment")
    first = run(qtbot, window, tab)
    assert graph.doc.node("gen").params["seed"] == 42 and graph.last_seeds["gen"] == 41
    assert not graph.run_state.stale("gen")  # what it shows is the run's, not out of date
    assert window.properties.rows["seed"].field.editor.value() == 42
    second = run(qtbot, window, tab)
    assert graph.doc.node("gen").params["seed"] == 43 and graph.last_seeds["gen"] == 42
    assert second[0] == "executed" and second[1] != first[1]
    assert graph.undo_stack.undoText() == "Next seed of gen"
    graph.undo_stack.undo()
    assert graph.doc.node("gen").params["seed"] == 42


def test_the_dice_sets_a_new_concrete_seed_in_one_undo_step(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, pair())
    graph = tab.controller
    window.properties.seed.dice.click()
    rolled = graph.doc.node("gen").params["seed"]
    assert isinstance(rolled, int) and rolled != 5 and rolled >= 0
    assert window.properties.rows["seed"].field.editor.value() == rolled
    window.properties.seed.dice.click()  # a second roll is its own step, not merged with the first
    graph.undo_stack.undo()
    assert graph.doc.node("gen").params["seed"] == rolled
    graph.undo_stack.undo()
    assert graph.doc.node("gen").params["seed"] == 5


def test_build_plan_rerolls_only_the_named_nodes(window: MainWindow) -> None:
    doc = pair()
    doc.nodes.append(NodeSpec("gen2", "provider.local", {"seed": 5, "width": 64, "height": 64}))
    doc.edges.append(EdgeSpec("prompt", "text", "gen2", "prompt"))
    registry, home = window.app.registry, window.app.library.home
    plan = build_plan(doc, registry, home=home, reroll_nodes=["gen"], rng=random.Random(1))
    assert plan.nodes["gen2"].seed == 5 and plan.nodes["gen"].seed != 5
    again = build_plan(doc, registry, home=home, reroll_nodes=["gen"], rng=random.Random(2))
    assert again.nodes["gen"].cache_key != plan.nodes["gen"].cache_key
    assert again.nodes["gen2"].cache_key == plan.nodes["gen2"].cache_key


def test_the_estimate_counts_a_random_each_run_node_as_executing(qtbot: Any, window: MainWindow) -> None:
    tab = open_tab(window, pair())
    graph = tab.controller
    run(qtbot, window, tab)
    estimate = window.money.estimate(graph)
    assert not isinstance(estimate, str) and estimate.nodes["gen"].action == "cached"
    choose_mode(window, "random")
    estimate = window.money.estimate(graph)
    assert not isinstance(estimate, str) and estimate.nodes["gen"].action == "execute"
