"""Make docs/report.png: the top of the sample's report, shot in headless Chromium.

The same recipe as the browser test (tests/test_report_html.py): Debian's chromium and
chromedriver, the network off (offline emulation and a proxy that goes nowhere), the page
loaded from a file. Run from the checkout:

    .venv/bin/python docs/make_report_png.py [RESULTS_DIR]

Without RESULTS_DIR it builds the sample into a temporary folder and solves it first.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[1]
PNG = REPO / "docs" / "report.png"
WIDTH_PX, HEIGHT_PX = 1200, 1330
PALETTE_COLOURS = 128  # the PNG is quantised to this many colours (text stays crisp)


def have_browser() -> bool:
    """Debian's chromium and chromedriver are installed."""
    return CHROMIUM.is_file() and CHROMEDRIVER.is_file()


@contextmanager
def offline_browser(width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX) -> Iterator[object]:
    """A headless Chromium driven by selenium that cannot reach any network, logging every
    console message (`driver.get_log("browser")`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
                "--proxy-bypass-list=<-loopback>", "--hide-scrollbars",
                "--force-device-scale-factor=1", f"--window-size={width_px},{height_px}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
        driver.set_window_size(width_px, height_px)
        yield driver
    finally:
        driver.quit()


def optimised_png(png: bytes, height_px: int | None = None) -> bytes:
    """A screenshot (its top `height_px` rows) as a palette PNG, quantised and optimised:
    tens of KB."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if height_px is not None:
        image = image.crop((0, 0, image.width, min(image.height, height_px)))
    small = image.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def shoot(report: Path, png: Path = PNG, last: str = "npv") -> Path:
    """The top of `report`, WIDTH_PX wide, down to the end of the section `last` (the
    headline and the NPV waterfall) or HEIGHT_PX, as an optimised PNG."""
    with offline_browser() as driver:
        driver.get(report.resolve().as_uri())
        bottom = driver.execute_script(
            "const e = document.getElementById(arguments[0]);"
            "return e ? Math.ceil(e.getBoundingClientRect().bottom) + 12 : null;", last)
        png.write_bytes(optimised_png(driver.get_screenshot_as_png(), bottom))
    return png


def sample_results(work: Path) -> Path:
    """Build the sample into `work` and solve it there; returns the results folder."""
    optim = [sys.executable, "-m", "optim.cli"]
    shutil.copy(REPO / "data" / "sample" / "scenario.toml", work / "scenario.toml")
    subprocess.run([*optim, "sample", "--out", str(work / "generated")], check=True, cwd=work)
    subprocess.run([*optim, "solve", "scenario.toml", "--out", str(work / "results"), "-q"],
                   check=True, cwd=work)
    return work / "results"


def main(argv: list[str]) -> None:
    from optim.report_html import write_report

    with tempfile.TemporaryDirectory() as tmp:
        results = Path(argv[0]) if argv else sample_results(Path(tmp))
        report = write_report(results, Path(tmp) / "report.html")
        print(f"wrote {shoot(report)} ({PNG.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main(sys.argv[1:])
