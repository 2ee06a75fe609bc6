"""Another machine on the same library, for the multi-process tests (`python -m tests.support.library_worker`).

`ACTION GO_FILE ARGS...` opens the library (ARTFACTORY_HOME / ARTFACTORY_DATABASE_URL), prints "ready", waits for
GO_FILE so that every worker starts at once, then edits product by product (one transaction each).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    action, go, *args = argv
    from sqlalchemy import select

    from artfactory.models import Product
    from artfactory.services.gallery import Gallery
    from artfactory.services.library import Library
    from artfactory.services.orders import OrderStore

    library = Library.open()
    gallery = Gallery(library)
    project_id = library.project_id()
    with library.db.session() as session:
        ids = list(session.scalars(select(Product.id).order_by(Product.id)))
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not Path(go).exists():
        if time.monotonic() > deadline:
            return 3
        time.sleep(0.005)
    store = OrderStore(library)
    if action == "rate":  # ARGS: rating
        for pid in ids:
            gallery.rate([pid], int(args[0]))
    elif action == "favourite":
        for pid in ids:
            gallery.set_favourite([pid], True)
    elif action == "collect":  # ARGS: name, "even" | "odd" | "all": as a run's collection.add, then the gallery
        name, which = args
        chosen = [pid for i, pid in enumerate(ids) if which == "all" or i % 2 == (0 if which == "even" else 1)]
        for pid in chosen:
            with library.db.engine.begin() as conn:
                store._add_to_collection(conn, project_id, name, [pid])
        collection_id = next(c.id for c in gallery.collections(project_id) if c.name == name)
        gallery.add_to_collection(collection_id, ids)  # every one again: those already in are skipped
    elif action == "import":  # ARGS: files: as `artfactory import` does
        from artfactory.services.transfer import import_paths

        result = import_paths(library, [Path(a) for a in args], project_id=project_id)
        print(json.dumps({"products": [p.id for p in result.products]}), flush=True)
    else:
        return 2
    print(json.dumps({"done": action}), flush=True)
    library.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
