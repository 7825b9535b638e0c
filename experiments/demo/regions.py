"""The 24 regional centres of the demo: name, latitude and strike exposure w_r (docs/demo-data.md §2)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    """A regional centre: lower-case name as in the real derived weather file, latitude (°N), strike exposure."""

    name: str
    lat: float
    exposure: float


# The 24 regional centres of ua-weather-openmeteo/list_of_cities.csv (latitudes rounded); exposure w_r is higher
# in the east, north-east and south (front line, border) and lowest in the far west and occupied Crimea.
REGIONS: tuple[Region, ...] = (
    Region("cherkasy", 49.44, 0.8),
    Region("chernihiv", 51.49, 1.2),
    Region("chernivtsi", 48.29, 0.4),
    Region("dnipro", 48.47, 1.4),
    Region("donetsk", 48.02, 1.0),
    Region("ivano-frankivsk", 48.92, 0.6),
    Region("kharkiv", 49.99, 1.6),
    Region("kherson", 46.64, 1.6),
    Region("khmelnytskyi", 49.42, 0.7),
    Region("kyiv", 50.45, 1.2),
    Region("luhansk", 48.57, 0.5),
    Region("lutsk", 50.75, 0.5),
    Region("lviv", 49.84, 0.6),
    Region("mykolaiv", 46.98, 1.3),
    Region("odesa", 46.48, 1.3),
    Region("poltava", 49.59, 1.0),
    Region("rivne", 50.62, 0.6),
    Region("sevastopol", 44.61, 0.3),
    Region("sumy", 50.91, 1.5),
    Region("ternopil", 49.56, 0.5),
    Region("uzhhorod", 48.62, 0.3),
    Region("vinnytsia", 49.23, 0.8),
    Region("zaporizhzhia", 47.85, 1.5),
    Region("zhytomyr", 50.26, 0.8),
)
REGION_NAMES: tuple[str, ...] = tuple(r.name for r in REGIONS)
