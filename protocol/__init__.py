"""The ``roost.v1`` wire protocol (sans-I/O).

This package imports nothing of the hub. Hierarchy::

    ProtocolError        root of every protocol error
"""

__all__ = ["ProtocolError"]


class ProtocolError(Exception):
    """Root of every error the protocol package raises."""
