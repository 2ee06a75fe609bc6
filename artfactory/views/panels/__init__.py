"""Dockable panels: the node library and the runs list."""
