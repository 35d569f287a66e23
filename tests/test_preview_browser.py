"""The playground page in headless Chromium (Selenium with Debian's chromium and chromedriver).

One real ``fastshare preview`` process (``python -m fastshare._cli_preview``, port 0) and one
browser session serve the whole module; each test loads the page afresh. Skipped, with the
reason, where Selenium, Chromium or its driver is missing. Every wait is bounded.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from _browser import Browser, skip_reason
from _preview_util import (
    ITEM,
    LAYERS,
    SIZES,
    TEMPLATE,
    TEMPLATE_BROKEN,
    TEMPLATE_EDITED,
    wait_for,
    write,
)

_REASON = skip_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

WAIT = 30.0

#: every card as the page shows it
CARDS_JS = """
return [...document.querySelectorAll('figure.card')].map((fig) => {
  const img = fig.querySelector('img');
  const error = fig.querySelector('.error');
  return {target: fig.dataset.target, seq: Number(fig.dataset.seq), status: fig.dataset.status,
          format: fig.dataset.format, boxes: fig.dataset.boxes, src: img.getAttribute('src'),
          width: img.naturalWidth, height: img.naturalHeight,
          caption: fig.querySelector('figcaption').textContent,
          meta: fig.querySelector('.meta').textContent,
          error: error.hidden ? '' : error.textContent};
});
"""

#: a hash of each card's decoded pixels and the colour of its top-right pixel
PIXELS_JS = """
return [...document.querySelectorAll('figure.card img')].map((img) => {
  if (!img.naturalWidth) return null;
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let h = 2166136261;
  for (let i = 0; i < data.length; i += 1) { h ^= data[i]; h = Math.imul(h, 16777619) >>> 0; }
  const corner = ctx.getImageData(canvas.width - 4, 4, 1, 1).data;
  return {hash: h, corner: [corner[0], corner[1], corner[2]]};
});
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("preview-browser")
    path = root / "card.toml"
    path.write_text(TEMPLATE, encoding="utf-8")
    data = root / "item.json"
    data.write_text(json.dumps(ITEM), encoding="utf-8")
    cmd = [sys.executable, "-m", "fastshare._cli_preview", "preview", str(path)]
    cmd += ["--data", str(data), "--port", "0", "--workers", "2", "--log-level", "warning"]
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert proc.stdout is not None
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        assert first and " at http://" in first[0], f"no URL printed: {first}"
        url = first[0].rsplit(" at ", 1)[1].strip()
        yield {"url": url, "path": path, "proc": proc}
    finally:
        proc.send_signal(2)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    session = Browser(1280, 900)
    try:
        yield session
    finally:
        session.quit()


@pytest.fixture
def page(server: dict[str, Any], browser: Browser) -> Iterator[Any]:
    """The page, loaded afresh, once every target has rendered."""
    browser.viewport(1280, 900)
    driver = browser.driver
    driver.get(server["url"])
    wait_for(lambda: rendered(driver, 1), WAIT, "the first render of every target")
    yield driver
    write(server["path"], TEMPLATE)


def cards(driver: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = driver.execute_script(CARDS_JS)
    return result


def pixels(driver: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = driver.execute_script(PIXELS_JS)
    return result


def rendered(driver: Any, at_least: int) -> list[dict[str, Any]] | None:
    """The cards when every target has rendered ``at_least`` times and none is failing."""
    found = cards(driver)
    if len(found) != len(SIZES):
        return None
    if all(c["seq"] >= at_least and c["status"] == "ok" for c in found):
        return found
    return None


def field(driver: Any, name: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'.field[data-name="{name}"] input, '
                               f'.field[data-name="{name}"] textarea')  # fmt: skip


def test_page_shows_every_target_at_its_natural_size(page: Any, server: dict[str, Any]) -> None:
    found = cards(page)
    assert [c["target"] for c in found] == list(SIZES)
    for card in found:
        width, height = SIZES[card["target"]]
        assert (card["width"], card["height"]) == (width, height)
        assert f"{width} × {height}" in card["caption"]
        assert re.fullmatch(r"PNG · [\d.]+ (B|KB|MB) · rendered in [\d.]+ ms", card["meta"])
        assert card["src"].startswith("blob:")
    # the form has one field per placeholder, prefilled from --data
    assert field(page, "title").get_attribute("value") == ITEM["title"]
    assert field(page, "author.name").get_attribute("value") == "Ada"
    assert field(page, "count").get_attribute("value") == "12345"
    assert field(page, "tag").get_attribute("value") == "new"
    from selenium.webdriver.common.by import By

    assert page.find_element(By.ID, "file").text == str(server["path"])
    options = [
        o.get_attribute("value") for o in page.find_elements(By.CSS_SELECTOR, "#target option")
    ]
    assert options[: len(SIZES) + 1] == ["all", *SIZES] and "x" in options
    assert page.execute_script("return document.documentElement.scrollWidth") <= 1280


def test_typing_a_title_rerenders_every_image(page: Any) -> None:
    before = pixels(page)
    seqs = {c["target"]: c["seq"] for c in cards(page)}
    title = field(page, "title")
    title.clear()
    title.send_keys("A title typed in the browser")

    def changed() -> list[dict[str, Any]] | None:
        now = pixels(page)
        done = all(a and b and a["hash"] != b["hash"] for a, b in zip(before, now, strict=True))
        return now if done else None

    wait_for(changed, WAIT, "every image to change")
    assert all(c["seq"] > seqs[c["target"]] for c in cards(page))
    # the format picker: JPEG, same sizes, the byte size shown under each image
    from selenium.webdriver.common.by import By

    page.find_element(By.CSS_SELECTOR, 'input[name="format"][value="jpeg"]').click()
    jpeg = wait_for(
        lambda: (found := cards(page)) and all(c["format"] == "jpeg" for c in found) and found,
        WAIT,
        "JPEG renders",
    )
    for card in jpeg:
        assert card["meta"].startswith("JPEG · ")
        assert (card["width"], card["height"]) == SIZES[card["target"]]


def test_outline_toggle_draws_every_layer_box(page: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    toggle = page.find_element(By.ID, "outlines")
    toggle.send_keys(Keys.SPACE)  # the keyboard works the toggle
    assert toggle.is_selected()
    wait_for(lambda: all(c["boxes"] == str(len(LAYERS)) for c in cards(page)), WAIT, "the boxes")
    geometry = page.execute_script(
        """
        return [...document.querySelectorAll('figure.card')].map((fig) => {
          const img = fig.querySelector('img').getBoundingClientRect();
          const boxes = {};
          fig.querySelectorAll('.box[data-layer]').forEach((box) => {
            const r = box.getBoundingClientRect();
            boxes[box.dataset.layer] = {
              label: box.querySelector('.box-id').textContent,
              visible: getComputedStyle(box.parentElement).display !== 'none',
              x0: (r.left - img.left) / img.width, x1: (r.right - img.left) / img.width,
              y0: (r.top - img.top) / img.height, y1: (r.bottom - img.top) / img.height};
          });
          return {target: fig.dataset.target, boxes};
        });
        """
    )
    for entry in geometry:
        width, height = SIZES[entry["target"]]
        boxes = entry["boxes"]
        assert sorted(boxes) == sorted(LAYERS)
        for layer_id, box in boxes.items():
            assert box["label"] == layer_id and box["visible"]
        # boxes are drawn where the template puts them, at the display scale (±1 %)
        tag = boxes["tag"]
        assert tag["x0"] == pytest.approx(64 / width, abs=0.01)
        assert tag["x1"] - tag["x0"] == pytest.approx(160 / width, abs=0.01)
        assert tag["y1"] - tag["y0"] == pytest.approx(40 / height, abs=0.01)
        assert boxes["title"]["x1"] == pytest.approx(1 - 64 / width, abs=0.01)
        assert boxes["footer"]["y1"] == pytest.approx(1 - 48 / height, abs=0.01)
        assert tag["y0"] > boxes["title"]["y1"]  # placed below the measured title
    toggle.send_keys(Keys.SPACE)
    hidden = page.execute_script(
        "return [...document.querySelectorAll('.boxes')].every("
        "(b) => getComputedStyle(b).display === 'none')"
    )
    assert hidden


def test_broken_template_shows_its_problems_and_keeps_the_last_image(
    page: Any, server: dict[str, Any]
) -> None:
    from selenium.webdriver.common.by import By

    path = server["path"]
    before = pixels(page)
    srcs = [c["src"] for c in cards(page)]
    version = int(page.execute_script("return document.body.dataset.version"))
    write(path, TEMPLATE_BROKEN)
    problems = page.find_element(By.ID, "problems")
    wait_for(problems.is_displayed, WAIT, "the problems to show")
    text = problems.text
    assert "layers[0].color" in text and "not a CSS colour" in text and "blue-ish" in text
    assert "layers[2].size" in text and "expected a number" in text
    assert "last good render" in text
    assert "template error" in page.find_element(By.ID, "status").text
    # the last good images stay, untouched
    assert [c["src"] for c in cards(page)] == srcs
    assert pixels(page) == before
    assert all((c["width"], c["height"]) == SIZES[c["target"]] for c in cards(page))

    write(path, TEMPLATE_EDITED)  # saving a good file re-renders with it
    wait_for(lambda: not problems.is_displayed(), WAIT, "the problems to clear")
    assert int(page.execute_script("return document.body.dataset.version")) == version + 1

    def recoloured() -> list[dict[str, Any]] | None:
        now = pixels(page)
        return now if all(p and p["corner"] == [124, 45, 18] for p in now) else None

    wait_for(recoloured, WAIT, "the edited background in every image")


def test_narrow_width_stacks_controls_and_previews(
    page: Any, server: dict[str, Any], browser: Browser
) -> None:
    browser.viewport(390, 844)
    page.get(server["url"])
    wait_for(lambda: rendered(page, 1), WAIT, "renders at 390 px")
    layout = page.execute_script(
        """
        const aside = document.querySelector('aside').getBoundingClientRect();
        const main = document.querySelector('main').getBoundingClientRect();
        const cards = [...document.querySelectorAll('figure.card')].map(
          (f) => f.getBoundingClientRect().right);
        return {scroll: document.documentElement.scrollWidth, asideBottom: aside.bottom,
                mainTop: main.top, right: Math.max(...cards)};
        """
    )
    assert layout["scroll"] <= 390
    assert layout["asideBottom"] <= layout["mainTop"]
    assert layout["right"] <= 390
