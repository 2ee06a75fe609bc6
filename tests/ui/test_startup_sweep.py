"""The app sweeps crash leftovers off the UI thread at start and says once, in the status bar, what moved."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from artfactory.app import create_main_window
from artfactory.services.library import Library
from artfactory.services.sweep import LOST_AND_FOUND


def test_start_up_sweep_reports_in_the_status_bar(qtbot: Any, library_home: Path, tmp_path: Path,
                                                  monkeypatch: Any) -> None:
    monkeypatch.setenv("ARTFACTORY_UI_SETTINGS", str(tmp_path / "ui.ini"))
    library = Library.open(library_home)
    try:
        orphan = library_home / "products" / "1" / "2026" / "01" / "killed_0123abcd.png"
        orphan.parent.mkdir(parents=True)
        orphan.write_bytes(b"\x89PNG leftover of a kill -9")
        then = time.time() - 2 * 3600
        os.utime(orphan, (then, then))
        window = create_main_window(library)
        qtbot.addWidget(window)
        window.app.library_swept.connect(window.show_message)  # as run_app wires it
        with qtbot.waitSignal(window.app.library_swept, timeout=10_000) as said:
            thread = window.app.sweep_library()
        thread.join(10)
        expected = f"moved 1 unreferenced file(s) to {library_home.resolve() / LOST_AND_FOUND}"
        assert said.args == [expected]
        status = window.statusBar()
        assert status is not None and status.currentMessage() == expected
        assert not orphan.exists()
        assert (library_home / LOST_AND_FOUND / "products/1/2026/01/killed_0123abcd.png").is_file()
        # Nothing new the next time: no signal, no message.
        with qtbot.assertNotEmitted(window.app.library_swept, wait=200):
            window.app.sweep_library().join(10)
        window.app.runs.cancel_all()
    finally:
        library.close()
