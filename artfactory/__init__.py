"""Art Factory: AI media pipelines as node graphs, with lineage for every product."""

__version__ = "0.1.0"
