"""The lab's model of an Exchange organization (see lab/README-model.md)."""

from .objects_state import HostInfo
from .state import LabState
from .topology import TopologyError

__all__ = ["LabState", "HostInfo", "TopologyError"]
