"""Headless Chromium for the page tests, driven by Selenium with the system's browser and driver.

Debian's ``chromium`` and ``chromium-driver`` (``.ci/system-packages``); the driver's path is
given explicitly, so Selenium Manager never downloads anything. ``FASTSHARE_CHROMIUM`` and
``FASTSHARE_CHROMEDRIVER`` point elsewhere. :func:`skip_reason` says why a browser test cannot
run here (``None`` when it can).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from typing import Any

CHROMIUM = os.environ.get("FASTSHARE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FASTSHARE_CHROMEDRIVER", "/usr/bin/chromedriver")

#: flags that work in containers and CI: no sandbox (root), no GPU, no network chatter
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-color-profile=srgb",
)


def skip_reason() -> str | None:
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install selenium)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} not found: install Debian's {package} (apt-get install {package})"
    return None


class Browser:
    """One headless Chromium with a fresh profile; ``quit`` removes the profile."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="fastshare-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        self.driver: Any = webdriver.Chrome(
            service=Service(executable_path=CHROMEDRIVER), options=options
        )
        self.driver.set_script_timeout(20)
        self.driver.set_page_load_timeout(30)
        self.viewport(width, height)

    def viewport(self, width: int, height: int) -> None:
        """Set the page's viewport (not the window) to exactly ``width`` × ``height``."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
