"""Screenshots of the template playground (``fastshare preview``) for ``docs/preview.md``.

Run from the repository root (needs the ``serve`` extra, ``selenium``, and Debian's ``chromium``
and ``chromium-driver``; nothing is downloaded)::

    python docs/scripts/screenshot_preview.py
    python docs/scripts/screenshot_preview.py --narrow /tmp/narrow.png   # a phone-width check

It starts the real command (``python -m fastshare._cli_preview preview cards/card-a.toml``) on a
free port with the bundled ``card-a`` template and its first sample item, opens the page in
headless Chromium and writes, in ``docs/images/``:

* ``preview.png``: the whole page at 1440×900 (every target, the form, the pickers);
* ``preview-outlines.png``: the ``og`` target alone with the layer outlines on;
* ``preview-error.png``: the page after a broken save (the problems, the last good render).

The screenshots are of the page as it is: re-run after changing it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastshare.examples import example_path, sample_items

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
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
    "--lang=en-GB",
)
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='fastshare-chromium-')}")
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def viewport(driver: Any, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def settled(driver: Any, fmt: str, rounds: int) -> bool:
    """Every card rendered at least ``rounds`` times, in ``fmt``, and none pending."""
    return bool(
        driver.execute_script(
            """
            const cards = [...document.querySelectorAll('figure.card')];
            return cards.length > 0 && cards.every((c) => c.dataset.status === 'ok'
              && c.dataset.format === arguments[0] && Number(c.dataset.seq) >= arguments[1]
              && !c.classList.contains('pending'));
            """,
            fmt,
            rounds,
        )
    )


def click(driver: Any, css: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, css).click()


def warm_round(driver: Any) -> None:
    """Render twice more (JPEG, then PNG) so the times shown are those of warm workers."""
    click(driver, 'input[name="format"][value="jpeg"]')
    wait_for(lambda: settled(driver, "jpeg", 2), 30, "JPEG renders")
    click(driver, 'input[name="format"][value="png"]')
    wait_for(lambda: settled(driver, "png", 3), 30, "PNG renders")
    time.sleep(0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output directory (docs/images)")
    parser.add_argument("--narrow", type=Path, default=None, help="also save a 390 px wide shot")
    args = parser.parse_args()
    source = example_path("card-a")
    assert source is not None
    work = Path(tempfile.mkdtemp(prefix="fastshare-preview-shot-"))
    (work / "cards").mkdir()
    template = work / "cards" / "card-a.toml"
    shutil.copyfile(source, template)
    item = {k: v for k, v in sample_items()[0].items() if k not in ("id", "author")}
    (work / "item.json").write_text(json.dumps(item), encoding="utf-8")
    cmd = [sys.executable, "-m", "fastshare._cli_preview", "preview", "cards/card-a.toml"]
    cmd += ["--data", "item.json", "--port", "0", "--workers", "2", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, text=True)
    driver = None
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        if not lines or " at http" not in lines[0]:
            raise SystemExit(f"the preview did not print its URL: {lines}")
        url = lines[0].rsplit(" at ", 1)[1].strip()
        driver = start_browser()
        args.out.mkdir(parents=True, exist_ok=True)

        viewport(driver, 1440, 900)
        driver.get(url)
        wait_for(lambda: settled(driver, "png", 1), 60, "the first renders")
        warm_round(driver)
        driver.save_screenshot(str(args.out / "preview.png"))
        print("wrote", args.out / "preview.png")

        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        Select(driver.find_element(By.ID, "target")).select_by_value("og")
        wait_for(lambda: settled(driver, "png", 4), 30, "the og render")
        click(driver, "#outlines")
        wait_for(
            lambda: driver.execute_script(
                "return document.querySelector('figure.card').dataset.boxes === '4'"
            ),
            30,
            "the layer boxes",
        )
        time.sleep(0.3)
        driver.find_element(By.CSS_SELECTOR, "figure.card").screenshot(
            str(args.out / "preview-outlines.png")
        )
        print("wrote", args.out / "preview-outlines.png")
        click(driver, "#outlines")
        Select(driver.find_element(By.ID, "target")).select_by_value("all")
        wait_for(lambda: settled(driver, "png", 1), 30, "every target again")

        text = template.read_text(encoding="utf-8")
        broken = text.replace('color = "#0F172A"', 'color = "navy-ish"', 1).replace(
            "size = 64", 'size = "huge"', 1
        )
        template.write_text(broken, encoding="utf-8")
        wait_for(lambda: driver.find_element(By.ID, "problems").is_displayed(), 30, "the problems")
        time.sleep(0.3)
        driver.find_element(By.CSS_SELECTOR, "main").screenshot(str(args.out / "preview-error.png"))
        print("wrote", args.out / "preview-error.png")
        template.write_text(text, encoding="utf-8")
        wait_for(lambda: not driver.find_element(By.ID, "problems").is_displayed(), 30, "the fix")

        if args.narrow is not None:
            viewport(driver, 390, 1600)
            driver.get(url)
            wait_for(lambda: settled(driver, "png", 1), 60, "the narrow renders")
            driver.save_screenshot(str(args.narrow))
            print("wrote", args.narrow)
    finally:
        if driver is not None:
            driver.quit()
        proc.send_signal(2)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
