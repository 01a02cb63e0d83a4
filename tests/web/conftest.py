"""The battery maker's home (a supplier's declaration verified over a real nats-server, the battery declared)
shared by the web app's HTTP tests; the browser tests build live networks of their own."""

from __future__ import annotations

import pytest
from reports.report_kit import BatteryHome, make_battery_home


@pytest.fixture(scope="session")
def battery(tmp_path_factory: pytest.TempPathFactory) -> BatteryHome:
    return make_battery_home(tmp_path_factory.mktemp("web-battery"))
