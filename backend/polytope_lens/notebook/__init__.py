"""Polytope Lens in a notebook or a script: ``partition`` (a network's exact regions as an object
that Jupyter draws) and ``Lens`` (a live widget fed from the user's own training loop).

The top-level package lends these names lazily (``polytope_lens.__getattr__``), so ``import
polytope_lens`` stays cheap: torch, anywidget and the numerics load on first use.
"""
