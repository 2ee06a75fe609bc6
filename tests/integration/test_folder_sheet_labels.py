"""A contact sheet of a folder's photos labels each cell with the photo's file name, through every transform."""

from __future__ import annotations

import pytest

from tests.support.cli import GRAPHS, run_cli


def test_the_folder_template_labels_each_cell_with_its_file_name(capsys: pytest.CaptureFixture[str]) -> None:
    ran = run_cli(capsys, "run", GRAPHS / "photo-folder-grade-contact-sheet.json", "--json")
    assert ran.code == 0, ran.err
    sheet = ran.json["nodes"]["sheet"]["products"]
    shown = run_cli(capsys, "products", "show", sheet[0], "--json")
    assert shown.json["metadata"]["labels"] == ["1  DSC_0001_lake.jpg", "2  DSC_0002_dunes.jpg",
                                                 "3  DSC_0003_harbour.jpg", "4  DSC_0004_forest.jpg"]
    # The name travelled through grade and resize in each product's metadata, so a cached run labels the same.
    web = run_cli(capsys, "products", "show", ran.json["nodes"]["web"]["products"][0], "--json")
    assert web.json["metadata"]["title"] == "DSC_0001_lake.jpg"
