"""End to end in a real browser: Daphne serving kafkaview, Chromium driven by Playwright."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.helpers import PASSWORD

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


def log_in(page, base: str, user) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/clusters/local/")


def test_tail_page_shows_100_keyed_messages_in_order_and_hostile_values_stay_inert(
    user, daphne_server: str, kafka_broker, admin, browser_page
) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import NewTopic

    from tests.helpers import unique

    topic = unique("e2e-tail")
    admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(timeout=15)
    page = browser_page
    log_in(page, daphne_server, user)
    page.goto(f"{daphne_server}/clusters/local/topics/{topic}/tail/")
    page.wait_for_selector("#st-conn.ok")
    page.click("#btn-start")
    page.wait_for_function("document.getElementById('st-conn').textContent === 'live'")

    hostile = [
        b"<script>window.pwned = 1</script>",
        b'<img src="x" onerror="window.pwned = 2">',
        b'{"html": "<svg onload=window.pwned=3>"}',
    ]
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for i in range(100):
        producer.produce(topic, key=f"user-{i % 9}".encode(), value=f"message {i}".encode())
    for value in hostile:
        producer.produce(topic, key=b"evil", value=value)
    producer.flush(15)

    page.wait_for_function(
        "document.querySelectorAll('#tail-rows tr').length === 103", timeout=20000
    )
    rows = page.eval_on_selector_all(
        "#tail-rows tr",
        "rows => rows.map(r => [Number(r.dataset.partition), Number(r.dataset.offset),"
        " r.cells[3].innerText, r.cells[4].innerText])",
    )
    keyed = [r for r in rows if "message" in r[3]]
    assert len(keyed) == 100
    for partition in {r[0] for r in rows}:
        offsets = [r[1] for r in rows if r[0] == partition]
        assert offsets == sorted(offsets)
        assert offsets == list(range(len(offsets)))
    # Hostile values are shown as text and never run.
    assert page.evaluate("window.pwned") is None
    assert page.locator("#tail-rows script, #tail-rows img, #tail-rows svg").count() == 0
    shown = " ".join(r[3] for r in rows)
    assert "<script>window.pwned = 1</script>" in shown
    assert 'onerror="window.pwned = 2"' in shown
    assert page.text_content("#st-received").strip() == "103"


def topic_and_producer(admin: Any, broker: Any, prefix: str, *, partitions: int) -> tuple[str, Any]:
    """A new topic and a producer for it."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import NewTopic

    from tests.helpers import unique

    topic = unique(prefix)
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=15)
    return topic, Producer({"bootstrap.servers": broker.bootstrap_servers})


def test_browsing_a_backlog_pages_500_at_a_time_then_jumps_to_latest(
    user, daphne_server: str, kafka_broker, admin, browser_page
) -> None:
    topic, producer = topic_and_producer(admin, kafka_broker, "e2e-pages", partitions=1)
    for i in range(1_200):
        producer.produce(topic, value=f"old {i}".encode())
    producer.flush(15)
    page = browser_page
    log_in(page, daphne_server, user)
    page.goto(f"{daphne_server}/clusters/local/topics/{topic}/tail/?start=earliest")
    page.wait_for_selector("#st-conn.ok")
    page.click("#btn-start")
    rows = "document.querySelectorAll('#tail-rows tr').length"
    page.wait_for_function(f"{rows} === 500", timeout=20000)
    # The rest is waiting in Kafka: the page says how much, and offers the next page.
    page.wait_for_selector("#btn-next:not([hidden])", timeout=10000)
    page.wait_for_function("document.getElementById('st-behind').textContent.startsWith('700')")
    page.click("#btn-next")
    page.wait_for_function(
        f"{rows} === 500 && document.getElementById('st-received').textContent === '1,000'",
        timeout=20000,
    )
    # Jump to the end: only what is produced from now on arrives.
    page.click("#btn-latest")
    page.wait_for_function("document.getElementById('start').value === 'latest'")
    # The new start has taken effect once the server reports the reader caught up.
    page.wait_for_selector("#btn-latest[hidden]", state="attached", timeout=20000)
    page.wait_for_function("document.getElementById('st-behind').textContent === '0'")
    page.click("#btn-clear")
    producer.produce(topic, value=b"fresh")
    producer.flush(15)
    page.wait_for_function(f"{rows} === 1", timeout=20000)
    assert page.locator("#tail-rows tr td").nth(1).inner_text() == "1200"


def test_a_search_shows_its_progress_to_100_percent_and_its_count(
    user, daphne_server: str, kafka_broker, admin, browser_page
) -> None:
    topic, producer = topic_and_producer(admin, kafka_broker, "e2e-search", partitions=2)
    for i in range(5_000):
        producer.produce(topic, value=f"hay {i}".encode(), partition=i % 2)
    producer.produce(topic, value=b"<img src=x onerror=window.pwned=1> needle", partition=0)
    producer.produce(topic, value=b"needle two", partition=1)
    producer.flush(15)
    page = browser_page
    log_in(page, daphne_server, user)
    page.goto(f"{daphne_server}/clusters/local/topics/{topic}/tail/")
    page.wait_for_selector("#st-conn.ok")
    page.select_option("#start", "earliest")
    page.select_option("#end", "now")
    page.fill("#filter", "needle")
    page.click("#btn-start")
    page.wait_for_function(
        "document.getElementById('search-text').textContent === 'scanned 5,002, matched 2'",
        timeout=30000,
    )
    assert page.evaluate("document.getElementById('search-progress').value") == 1
    assert page.text_content("#st-conn").strip() == "search done"
    assert page.locator("#tail-rows tr").count() == 2
    shown = " ".join(page.locator("#tail-rows tr").all_inner_texts())
    assert "<img src=x onerror=window.pwned=1> needle" in shown
    assert page.evaluate("window.pwned") is None
    assert page.locator("#tail-rows img").count() == 0


def test_group_chart_draws_the_sampled_lag_and_updates_while_open(
    user, daphne_server: str, kafka_broker, admin, browser_page
) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import NewTopic

    from dashboard.lag.sampler import Sampler
    from tests.helpers import unique

    topic, group = unique("chart"), unique("g-chart")
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=15)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for i in range(30):
        producer.produce(topic, key=f"k{i}".encode(), value=b"v")
    producer.flush(10)
    committer = Consumer({"bootstrap.servers": kafka_broker.bootstrap_servers, "group.id": group})
    committer.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    committer.close()
    sampler = Sampler(cluster="local", interval=0.5, window=4)

    def sample() -> None:
        # Playwright's loop makes this thread "async" to Django: use the database elsewhere.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(sampler.round).result()

    for _ in range(3):
        sample()
    page = browser_page
    log_in(page, daphne_server, user)
    page.goto(f"{daphne_server}/clusters/local/groups/{group}/")
    chart = page.locator("#lag-chart")
    page.wait_for_function("() => Number(document.querySelector('#lag-chart').dataset.points) >= 3")
    assert chart.locator("canvas").count() == 1
    legend = chart.locator(".u-legend").inner_text()
    assert "total" in legend and f"{topic}/0" in legend
    # A new round shows up without reloading the page (the chart refreshes itself).
    first = int(chart.get_attribute("data-points"))
    sample()
    page.evaluate("document.querySelector('#lag-chart').dataset.refresh = '500'")
    page.wait_for_function(
        f"() => Number(document.querySelector('#lag-chart').dataset.points) > {first}",
        timeout=20_000,
    )
    # The status links to the rules page.
    page.click("[data-testid=status] a")
    page.wait_for_url(f"{daphne_server}/help/lag-status/")
    assert "STALL" in page.locator("#statuses").inner_text()


@pytest.fixture
def operate_topic(user, kafka_broker, make_topic) -> str:
    """A topic of five records and the user in cluster-admin (made before the browser starts:
    no database call may run while Playwright's loop does)."""
    from confluent_kafka import Producer
    from django.contrib.auth.models import Group

    from tests.conftest import roles_ensure

    roles_ensure()
    user.groups.add(Group.objects.get(name="cluster-admin"))
    topic = make_topic("e2e-operate")
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for i in range(5):
        producer.produce(topic, value=f"v{i}".encode(), partition=0)
    producer.flush(15)
    return topic


def test_a_config_change_and_a_purge_go_preview_then_confirm(
    user, daphne_server: str, admin, operate_topic, browser_page
) -> None:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import ConfigResource, OffsetSpec

    topic = operate_topic
    page = browser_page
    log_in(page, daphne_server, user)

    page.goto(f"{daphne_server}/clusters/local/topics/{topic}/configs/")
    page.fill("#set", "retention.ms=120000")
    page.click("#config-form button[type=submit]")
    row = page.locator("#diff tbody tr").first.inner_text()
    assert "retention.ms" in row and "120000" in row and "default → topic" in row
    described = admin.describe_configs([ConfigResource("TOPIC", topic)])
    (future,) = described.values()
    assert future.result(timeout=15)["retention.ms"].value != "120000"  # a preview only
    page.click("#apply")
    page.wait_for_selector("#config-result")
    (future,) = admin.describe_configs([ConfigResource("TOPIC", topic)]).values()
    assert future.result(timeout=15)["retention.ms"].value == "120000"

    page.goto(f"{daphne_server}/clusters/local/topics/{topic}/purge/")
    page.select_option("#mode", "offset")
    page.fill("#value", "3")
    page.click("#change-form button[value=preview]")
    assert "0 → 3" in page.locator("#purge-plan tbody tr").first.inner_text()
    page.fill("#confirm", "not the name")
    page.click("#apply")
    assert "type the topic's name" in page.locator("#change-error").inner_text()
    page.fill("#confirm", topic)
    page.click("#apply")
    page.wait_for_selector("#change-result")
    low = admin.list_offsets({TopicPartition(topic, 0): OffsetSpec.earliest()})
    assert next(iter(low.values())).result(timeout=15).offset == 3


@pytest.fixture
def resend_topics(user, kafka_broker, make_topic) -> tuple[str, str]:
    """A source of 40 records (two say "needle") and an empty target; the user an operator."""
    from confluent_kafka import Producer
    from django.contrib.auth.models import Group

    from tests.conftest import roles_ensure

    roles_ensure()
    user.groups.add(Group.objects.get(name="operator"))
    source, target = make_topic("e2e-resend-src"), make_topic("e2e-resend-dst")
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for i in range(40):
        producer.produce(source, key=b"k%d" % i, value=b"needle %d" % i if i in (3, 30) else b"hay")
    producer.flush(15)
    return source, target


def test_a_search_on_the_tail_page_is_sent_again_after_a_preview(
    user, daphne_server: str, kafka_broker, resend_topics, browser_page
) -> None:
    from tests.integration.test_exchange import read_all

    source, target = resend_topics
    page = browser_page
    log_in(page, daphne_server, user)
    page.goto(f"{daphne_server}/clusters/local/topics/{source}/tail/")
    page.wait_for_selector("#st-conn.ok")
    page.select_option("#start", "earliest")
    page.select_option("#end", "now")
    page.fill("#filter", "needle")
    page.click("#btn-start")
    page.wait_for_selector("#resend-link:not([hidden])", timeout=30000)
    page.click("#resend-link")
    page.wait_for_selector("#republish-form")
    assert page.input_value("#rp-q") == "needle"  # the search came along
    page.fill("#rp-dest-topic", target)
    page.click("#republish-preview")
    page.wait_for_selector("#resend-result")
    assert "Preview: 2 of 40 records in range matched" in page.inner_text("#resend-result")
    assert read_all(kafka_broker.bootstrap_servers, target, partitions=1) == {0: []}
    page.click("#republish-send")
    page.wait_for_selector("#resend-result")
    assert "2 delivered, 0 failed" in page.inner_text("#resend-result")
    values = [r[1] for r in read_all(kafka_broker.bootstrap_servers, target, partitions=1)[0]]
    assert values == [b"needle 3", b"needle 30"]
