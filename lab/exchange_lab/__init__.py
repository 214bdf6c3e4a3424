"""exchange_lab: a simulated Microsoft Exchange organization reached over real WSMan/PSRP."""

from .lab import Lab

__all__ = ["Lab"]
__version__ = "0.1.0"
