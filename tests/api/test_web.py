"""The page at / in a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium).

Skipped, with the reason, where no Chromium is installed; `.ci/run` installs it where it can.
"""

from __future__ import annotations

import shutil
import tempfile

import httpx
import pytest
from presslens.api.app import create_app
from presslens.api.server import serve_in_thread
from presslens.api.settings import Settings

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM or not DRIVER:
        pytest.skip("no Chromium here: install Debian's chromium and chromium-driver (apt-get install -y "
                    "chromium chromium-driver) to run the browser tests")
    from selenium import webdriver  # the test extra installs it
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="presslens-chromium-")
    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def mixed_analyzer(tiny_analyzer, seed_texts):
    """The tiny model with its threshold at the median sentence probability, so that some sentences are
    commentary and some are not (the random head alone flags none) and highlighting is really exercised."""
    import dataclasses

    import numpy as np
    from presslens.model.pipeline import Analyzer
    from presslens.model.stance import StanceModel
    from presslens.model.text import Article

    probs = [s["probability"] for k in ("000", "004")
             for s in tiny_analyzer.analyze([Article(seed_texts[k])])[0].to_dict()["sentences"]]
    stance = tiny_analyzer.stance
    config = dataclasses.replace(stance.config, threshold=float(np.median(probs)))
    return Analyzer(StanceModel(config, stance.encoder, stance.head), tiny_analyzer.summarizer)


@pytest.fixture(scope="module")
def server(mixed_analyzer, tmp_path_factory):
    db = tmp_path_factory.mktemp("web") / "fb.sqlite3"
    with serve_in_thread(create_app(Settings(feedback_db=str(db)), mixed_analyzer)) as url:
        yield url


def _analyze(browser, url, texts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url + "/")
    for i, text in enumerate(texts):
        if i:
            browser.find_element(By.ID, "add").click()
        area = browser.find_elements(By.CSS_SELECTOR, ".article-input textarea")[i]
        # set the value directly: send_keys types 3,000 characters one by one
        browser.execute_script("arguments[0].value = arguments[1];", area, text)
    browser.find_element(By.ID, "analyze").click()
    WebDriverWait(browser, 60).until(ec.text_to_be_present_in_element((By.ID, "status"), "Done"))
    return browser.find_elements(By.CSS_SELECTOR, "#results article.result")


def test_page_shows_label_summary_and_highlighted_commentary(browser, server, seed_texts):
    from selenium.webdriver.common.by import By

    texts = [seed_texts["000"], seed_texts["004"]]
    cards = _analyze(browser, server, texts)
    api = httpx.post(f"{server}/v1/analyze",
                     json={"articles": [{"id": f"article-{i + 1}", "text": t} for i, t in enumerate(texts)]},
                     timeout=60).json()["results"]
    assert len(cards) == 2
    for card, want in zip(cards, api, strict=True):
        assert card.get_attribute("data-label") == want["label"]
        assert card.find_element(By.CSS_SELECTOR, ".label").text == want["label"]
        assert f"confidence {round(want['confidence'] * 100)}%" in card.find_element(By.CSS_SELECTOR, ".verdict").text
        summary = [li.text for li in card.find_elements(By.CSS_SELECTOR, "ul.summary li")]
        assert summary == [s["text"] + (f" ({s['speaker']})" if s["speaker"] else "") for s in want["summary"]]
        marked = [m.text for m in card.find_elements(By.CSS_SELECTOR, "mark.commentary")]
        assert marked == [s["text"] for s in want["sentences"] if s["commentary"]]
        assert 0 < len(marked) < len(want["sentences"])
        shown = card.find_elements(By.CSS_SELECTOR, ".article-text mark, .article-text span.sentence")
        assert len(shown) == sum(not s["is_title"] for s in want["sentences"])
    coverage = browser.find_element(By.ID, "coverage")
    assert coverage.is_displayed() and "2 articles" in coverage.text
    assert len(coverage.find_elements(By.CSS_SELECTOR, "tr")) == 3
    cov = httpx.post(f"{server}/v1/coverage",
                     json={"articles": [{"id": f"article-{i + 1}", "text": t} for i, t in enumerate(texts)]},
                     timeout=60).json()
    shown = [li.text for li in coverage.find_elements(By.CSS_SELECTOR, "ul.event-summary li")]
    assert shown and [s.split(" (")[0] for s in shown] == [c["text"].split(" (")[0] for c in cov["summary"]]
    assert len(coverage.find_elements(By.CSS_SELECTOR, "ul.shared li")) == len(cov["shared"])


def test_page_takes_html_and_reports_errors(browser, server):
    from selenium.webdriver.common.by import By

    from tests.api.test_api import PAGE

    cards = _analyze(browser, server, [PAGE])
    assert len(cards) == 1
    assert cards[0].find_element(By.CSS_SELECTOR, "h2").text == "Ministers meet in London"
    text = cards[0].find_element(By.CSS_SELECTOR, ".article-text").text
    assert "four hours" in text and "Subscribe" not in text
    assert not browser.find_element(By.ID, "coverage").is_displayed()

    browser.get(server + "/")
    area = browser.find_element(By.CSS_SELECTOR, ".article-input textarea")
    area.send_keys("... !!!")
    browser.find_element(By.ID, "analyze").click()
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(ec.text_to_be_present_in_element((By.ID, "status"), "Error"))
    assert "no sentences left after cleaning" in browser.find_element(By.ID, "status").text


def test_article_text_is_not_interpreted_as_markup(browser, server):
    from selenium.webdriver.common.by import By

    evil = ("Officials met in London on Friday. <img src=x onerror=\"document.title='pwned'\"> The talks "
            "ended without agreement, diplomats said.")
    cards = _analyze(browser, server, [evil])
    assert browser.title == "presslens"
    assert not cards[0].find_elements(By.CSS_SELECTOR, ".article-text img")


def test_article_keeps_its_paragraphs_and_key_claims_link_to_their_sentences(browser, server):
    from selenium.webdriver.common.by import By

    first = ("Ministers from both countries met in London on Friday to discuss the dispute over fishing rights. "
             "The talks lasted four hours and ended without a joint statement.")
    second = ("Officials said a second round would take place in Paris next month. "
              "Critics called the meeting a waste of time and money.")
    text = f"Fishing talks end without a deal\n\n{first}\n\n{second}"
    card = _analyze(browser, server, [text])[0]
    api = httpx.post(f"{server}/v1/analyze", json={"articles": [{"id": "article-1", "text": text}]},
                     timeout=60).json()["results"][0]
    paragraphs = card.find_elements(By.CSS_SELECTOR, ".article-text p.paragraph")
    assert [p.text for p in paragraphs] == [first, second]
    # highlighting and the per-sentence probability survive the paragraphs
    shown = card.find_elements(By.CSS_SELECTOR, ".article-text p.paragraph > mark, .article-text p.paragraph > span")
    body = [s for s in api["sentences"] if not s["is_title"]]
    assert [x.text for x in shown] == [s["text"] for s in body]
    for x, s in zip(shown, body, strict=True):
        assert x.tag_name == ("mark" if s["commentary"] else "span")
        assert x.get_attribute("title").endswith(f"p={s['probability']:.2f}")
    # every key claim links to its own sentence in the article, and a click brings it into view
    links = card.find_elements(By.CSS_SELECTOR, "ul.summary li a.claim-link")
    assert len(links) == len(api["summary"]) >= 1
    for link, claim in zip(links, api["summary"], strict=True):
        target = card.find_element(By.ID, link.get_attribute("href").split("#", 1)[1])
        assert target.text == claim["text"] == link.text
        assert target.get_attribute("data-index") == str(claim["index"])
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight);")
    last = links[-1]
    browser.execute_script("arguments[0].click();", last)
    target_id = last.get_attribute("href").split("#", 1)[1]
    assert browser.execute_script("return location.hash") == f"#{target_id}"
    assert "focus" in card.find_element(By.ID, target_id).get_attribute("class")
    top, bottom, height = browser.execute_script(
        "const r = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return [r.top, r.bottom, window.innerHeight];", target_id)
    assert 0 <= top and bottom <= height
