"""GET /v1/jobs: the caller's jobs by status, paged; failed ones are the dead-letter list."""

from __future__ import annotations

NOVA = "amazon.nova-canvas-v1:0"


def test_failed_jobs_are_listed_with_their_errors_and_can_be_retried(api, other_api):
    failed = api.generate({"prompt": "trigger-error", "model": NOVA, "async": True}).json()
    api.wait_for_job(failed["job_id"])
    listed = api.request("GET", "/v1/jobs", params={"status": "failed", "limit": 100}).json()
    entry = next(j for j in listed["jobs"] if j["job"]["job_id"] == failed["job_id"])
    assert entry["job"]["status"]["error"]["code"] == "IMG201"
    assert entry["can_retry"] is True
    assert all(j["job"]["status"]["status"] == "failed" for j in listed["jobs"])
    theirs = other_api.request("GET", "/v1/jobs", params={"status": "failed"}).json()
    assert failed["job_id"] not in [j["job"]["job_id"] for j in theirs["jobs"]]


def test_pages_cover_every_job_once(api):
    api.generate({"prompt": "an older one", "model": NOVA, "async": True})
    ids = [
        api.generate({"prompt": f"a page {i}", "model": NOVA, "async": True}).json()["job_id"]
        for i in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:  # pages of two, across the five and at least one older job
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.request("GET", "/v1/jobs", params=params).json()
        seen += [j["job"]["job_id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None or len(seen) >= 6:
            break
    assert len(seen) == len(set(seen))
    assert seen[:5] == list(reversed(ids))  # newest first


def test_bad_list_parameters_are_refused(api):
    for params in ({"status": "lost"}, {"limit": "0"}, {"limit": "101"}, {"cursor": "nope"}):
        response = api.request("GET", "/v1/jobs", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "IMG302"
