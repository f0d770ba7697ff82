"""A download through the real server: cancelled by the reader, the read stops and says so."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from dashboard.writes.models import AuditRecord
from tests.helpers import RECENT_MS, until
from tests.integration.test_exchange import fill

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_export_cancelled_by_the_browser_ends_the_read_and_is_recorded_as_cut_off(
    daphne_server: str, kafka_broker, make_topic, client, user
) -> None:
    topic = make_topic("daphne-export")
    # ~14 MiB of lossless lines: many chunks, so closing after the first leaves most unread.
    rows: list[tuple] = [(0, b"k%d" % i, b"x" * 1000, [], RECENT_MS + i) for i in range(10_000)]
    fill(kafka_broker.bootstrap_servers, topic, rows)
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    where = urlsplit(daphne_server)
    conn = http.client.HTTPConnection(str(where.hostname), where.port, timeout=30)
    conn.request(
        "GET",
        f"/api/clusters/local/topics/{topic}/export/?format=lossless",
        headers={"Cookie": cookie},
    )
    answer = conn.getresponse()
    assert answer.status == 200
    assert answer.getheader("X-Records-In-Range") == "10000"
    first = answer.read(64 * 1024)
    assert first.startswith(b'{"partition":0,"offset":0,')
    conn.close()  # the browser's Cancel: the connection goes away mid-download

    def recorded() -> AuditRecord | None:
        record = AuditRecord.objects.filter(action="export", target=topic).first()
        return record if record is not None and record.completed_at is not None else None

    record = until(recorded)
    assert record.status == "partial"
    assert record.result["finished"] == "cut off by the reader"
    # The reader stopped near where the download did: a chunk or two ahead, not the end.
    assert 0 < record.result["matched"] < 10_000
