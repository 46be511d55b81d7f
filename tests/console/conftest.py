"""The console's fixtures: the app on a copy of the configuration, served over HTTP, and headless Chromium."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.local_server import serving_app
from tests.stack import ADMIN_TOKEN, DEMO_SECRET

PROJECT = Path(__file__).resolve().parents[2]
PRIVACY_TOKEN = "test-privacy-token"
CONSOLE_KEY = "test-console-key"
SCREENSHOTS = Path(os.environ.get("SALESBRIDGE_SCREENSHOTS", PROJECT / "build" / "screenshots"))
CHROMIUM_FLAGS = (
    # Needed on a closed network and in containers: no sandbox, no GPU, no calls home.
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def reset_caches() -> None:
    from chalicelib import configuration as loader
    from chalicelib.api import auth
    from chalicelib.console import signing
    from chalicelib.runtime import settings
    from chalicelib.runtime.secrets import default_resolver

    settings.reset_settings()
    loader.reset()
    auth.reset_cache()
    signing.reset_cache()
    default_resolver().clear()


@pytest.fixture()
def console_config(aws: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The app's environment on a fresh AWS stand-in, reading a copy of the shipped configuration (tests may edit it)."""
    root = tmp_path / "config"
    shutil.copytree(PROJECT / "mappings", root / "mappings")
    shutil.copytree(PROJECT / "connectors", root / "connectors")
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(root))
    monkeypatch.setenv("SALESBRIDGE_STAGE", "local")
    monkeypatch.setenv("SALESBRIDGE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("SALESBRIDGE_PII_KEY", "test-pii-key")
    monkeypatch.setenv("DEMO_CRM_WEBHOOK_SECRET", DEMO_SECRET)
    monkeypatch.setenv("SALESBRIDGE_CONSOLE_KEY", CONSOLE_KEY)
    monkeypatch.setenv("SALESBRIDGE_PRIVACY_TOKEN", PRIVACY_TOKEN)
    reset_caches()
    yield root
    reset_caches()


@pytest.fixture()
def client(console_config: Path) -> Iterator[Any]:
    """Chalice's test client on that environment."""
    from chalice.test import Client

    import app as application

    with Client(application.app, stage_name="local") as test_client:
        yield test_client


@pytest.fixture()
def live_url(console_config: Path) -> Iterator[str]:
    """The app served over HTTP on 127.0.0.1, as `make run` serves it, in this process."""
    with serving_app() as url:
        yield url


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture()
def chromium() -> Iterator[Callable[..., Any]]:
    """A factory of headless Chromium sessions (Debian's chromium + chromium-driver), each with a fresh profile."""
    paths = chromium_paths()
    if paths is None:
        pytest.skip("Chromium is not installed: `apt-get install chromium chromium-driver` to run the browser tests")
    pytest.importorskip("selenium", reason="selenium is not installed (requirements-dev.txt)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers: list[Any] = []
    profiles: list[str] = []

    def start(language: str = "en-US", width: int = 1280, height: int = 900, phone: bool = False) -> Any:
        """``phone``: a 390 x 844 touch screen (the window of a desktop Chromium cannot be made that narrow)."""
        options = webdriver.ChromeOptions()
        options.binary_location = paths[0]
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        profile = tempfile.mkdtemp(prefix="salesbridge-chromium-")
        profiles.append(profile)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={width},{height}")
        options.add_argument(f"--lang={language}")
        options.add_experimental_option("prefs", {"intl.accept_languages": language})
        if phone:
            options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2.0}})
        driver = webdriver.Chrome(options=options, service=Service(paths[1]))
        driver.set_page_load_timeout(60)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()
    for profile in profiles:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: Any, name: str) -> Path:
    """The whole page as PNG into the ignored screenshots folder, for a reviewer to look at."""
    import base64

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000), "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
    path = SCREENSHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
