"""The node library: one module per family, discovered by artfactory.engine.registry."""
