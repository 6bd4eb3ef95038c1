"""The transparency notice: made from the running configuration, in English and Spanish, safe to display."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest
from playwright.sync_api import sync_playwright

from socialwatch.config import load_config
from socialwatch.dashboards.notice import languages, render_notice

REPO = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE = '<script>alert("x")</script>'


def test_english_and_spanish_at_least():
    assert {"en", "es"} <= set(languages())


@pytest.mark.parametrize("lang, kept", [("en", "Kept 30 days"), ("es", "Se guarda 30 días")])
def test_the_notice_says_what_the_configuration_does(tmp_path, lang, kept):
    config_file = tmp_path / "socialwatch.toml"
    config_file.write_text('[retention]\nactivity_days = 30\nflagged_content_days = 200\n'
                           '[district]\nnames = ["Example Regional Schools"]\ncontact = "privacy@example.org"\n')
    page = render_notice(load_config(config_file), lang)
    assert f'lang="{lang}"' in page
    assert kept in page and "200" in page
    assert "Example Regional Schools" in page and "privacy@example.org" in page
    for platform in ("Instagram", "TikTok", "Snapchat", "YouTube Kids", "MEGA"):
        assert platform in page


def test_configured_text_is_escaped(tmp_path):
    config_file = tmp_path / "socialwatch.toml"
    config_file.write_text(f"[district]\nnames = ['{HOSTILE}']\ncontact = '{HOSTILE}'\n")
    page = render_notice(load_config(config_file), "en")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_an_unknown_language_is_a_clear_error():
    result = subprocess.run([str(pathlib.Path(sys.executable).parent / "socialwatch"), "notice", "--lang", "fr"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "no notice text for language 'fr'" in result.stderr


def test_a_family_reads_the_notice_in_a_real_browser(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    for lang in ("en", "es"):
        (tmp_path / f"notice-{lang}.html").write_text(render_notice(load_config(None), lang))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        page = browser.new_page(viewport={"width": 900, "height": 1200})
        page.goto((tmp_path / "notice-en.html").as_uri())
        assert page.locator("h1").inner_text().startswith("How Essex North Shore")
        assert page.locator("#platforms li").count() >= 4
        assert "never, on its own, a reason for a flag" in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "notice-en.png"), full_page=True)
        page.click("text=ES")
        assert page.locator("html").get_attribute("lang") == "es"
        assert "Qué busca el sistema" in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "notice-es.png"), full_page=True)
        browser.close()
