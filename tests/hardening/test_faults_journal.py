"""The journal folder's disk fills up while rank calls keep coming: every call is still answered, every
answered decision is stored exactly once (the ones the journal could not take are written directly),
and once the flusher has stored and removed the full segment the journal takes decisions again.

The small disk is a 64 KiB tmpfs this test mounts (root only); the test skips, saying why, where it
cannot mount one.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from rest_framework.test import APIClient

from ranking import decision_log
from ranking.models import Decision
from tests.ranking.factories import catalogue

from .factories import key_with

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def small_disk(tmp_path):
    folder = tmp_path / "journal"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs for the journal needs root and mount(8)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "kaleido-journal-test",
                              str(folder)], capture_output=True, text=True, timeout=30)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the disk-full case is not run")
    try:
        yield folder
    finally:
        decision_log.close_journal()
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def free_bytes(folder) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def test_a_full_journal_disk_answers_every_call_and_stores_each_decision_once(small_disk, settings):
    settings.KALEIDO_DECISION_LOG = "journal"
    settings.KALEIDO_DECISION_JOURNAL_DIR = small_disk
    settings.KALEIDO_DECISION_FLUSH_S = 3600.0  # flushed when the test says so
    settings.KALEIDO_DECISION_FSYNC = "interval"
    decision_log.close_journal()
    placement, _ = catalogue("disk-full-banner")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key_with('rank')}")

    def rank(user: str) -> str:
        response = client.post("/api/v1/rank", {"placement": placement.slug, "user": {"id": user}, "k": 3},
                               format="json")
        assert response.status_code == 200, response.content
        return response.json()["decision_id"]

    answered = [rank(f"full-{i}") for i in range(300)]  # ~300 lines of ~500 bytes: far past 64 KiB
    written_directly = Decision.objects.filter(decision_id__in=answered).count()
    full = free_bytes(small_disk)

    decision_log.flush_journal()  # stores the full segment's lines and removes it: the space comes back
    stored = list(Decision.objects.filter(user_id__startswith="full-").values_list("decision_id", flat=True))
    after = rank("after-flush")
    back_in_journal = not Decision.objects.filter(decision_id=after).exists()
    print(f"\n{len(answered)} calls answered on a 64 KiB journal disk: {written_directly} written directly once it "
          f"was full ({full} bytes free then), {len(stored)} decisions stored ({len(set(stored))} distinct) after "
          f"the flush, {free_bytes(small_disk)} bytes free after it; next call journaled again: {back_in_journal}")
    assert 0 < written_directly < len(answered)  # the disk did fill, and the journal had taken the first ones
    assert len(stored) == len(set(stored)) == len(answered)
    assert {d.hex for d in stored} == {a.replace("-", "") for a in answered}
    assert back_in_journal
    decision_log.flush_journal()
    assert Decision.objects.filter(decision_id=after).count() == 1
