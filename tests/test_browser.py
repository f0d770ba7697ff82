"""End to end in a real browser: Daphne serving kafkaview, Chromium driven by Playwright."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_log_in_and_see_the_overview_of_the_real_broker(
    user, daphne_server: str, kafka_broker, browser_page
) -> None:
    page = browser_page
    page.goto(f"{daphne_server}/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{daphne_server}/clusters/local/")
    assert page.text_content("[data-testid=cluster-id]").strip() == kafka_broker.cluster_id
    assert page.locator("#brokers tbody td").all_inner_texts()[:3] == [
        "1",
        "127.0.0.1",
        str(kafka_broker.port),
    ]
    # Static files come through WhiteNoise: the stylesheet applied.
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.topbar')).backgroundColor"
    )
    assert background == "rgb(19, 26, 42)"
