"""atgen plugin ``facility-location``: representative batches by facility-location maximisation.

``select_facility_location`` works on plain numpy arrays; ``FacilityLocationStrategy`` is the atgen
strategy around it. Importing this package imports numpy and pydantic only.
"""

from __future__ import annotations

from atgen_facility_location.config import FacilityLocationConfig
from atgen_facility_location.selection import (
    FacilityLocationResult,
    facility_location_value,
    select_facility_location,
)
from atgen_facility_location.strategy import FacilityLocationStrategy

__version__ = "0.1.0"

__all__ = [
    "FacilityLocationConfig",
    "FacilityLocationResult",
    "FacilityLocationStrategy",
    "__version__",
    "facility_location_value",
    "select_facility_location",
]
