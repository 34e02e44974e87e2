"""Polytope Lens: watch a ReLU network learn a picture through its linear regions."""

__version__ = "0.1.0"
