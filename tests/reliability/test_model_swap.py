"""Model swap (issue 14, item 2.13): a corrupt version promoted to champion and reloaded keeps
the old model serving, and reloads (good, corrupt, back) while officers and the CRM score, explain
and ask for queues answer no 5xx; every answer names a model that loaded."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from api_world import MODEL_NAME, Api, queue_at

CLIENTS = 3
ROUNDS = 12


@pytest.fixture
def corrupt_champion(api: Api) -> Iterator[str]:
    """The registry's champion alias moved to the version whose files are gone, then back."""
    import mlflow

    uri = api.ctx.config.tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.set_registered_model_alias(MODEL_NAME, "champion", api.world.versions["broken"])
    try:
        yield api.world.versions["broken"]
    finally:
        client.set_registered_model_alias(MODEL_NAME, "champion", api.world.versions["good"])


def test_a_corrupt_champion_reloaded_keeps_the_old_model(api: Api, corrupt_champion: str) -> None:
    reload = api.post("/v1/model/reload", "admin")
    assert reload.status_code == 409, reload.text
    assert reload.json()["detail"].endswith("still serving lead-scorer/1")
    assert api.get("/readyz", "admin").json()["model_version"] == "lead-scorer/1"
    score = api.post("/v1/score", "crm", json={"lead_ids": ["L01"]})
    assert (score.status_code, score.json()["model_version"]) == (200, "lead-scorer/1")


def test_reloads_under_load_answer_no_5xx(api: Api) -> None:
    at = queue_at().isoformat().replace("+00:00", "Z")
    requests = [
        ("post", "/v1/score", "crm", {"json": {"lead_ids": ["L01", "L02", "L04"]}}),
        ("get", f"/v1/queue?at={at}", "officer", {}),
        ("get", "/v1/leads/L01/explanation", "officer", {}),
    ]
    statuses: Counter[int] = Counter()
    versions: set[str] = set()
    stop = threading.Event()
    lock = threading.Lock()

    def officer_and_crm(offset: int) -> None:
        turn = offset
        while not stop.is_set():
            method, path, who, kwargs = requests[turn % len(requests)]
            response = getattr(api, method)(path, who, **kwargs)
            turn += 1
            with lock:
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    versions.add(response.json().get("model_version", ""))

    clients = [threading.Thread(target=officer_and_crm, args=(n,)) for n in range(CLIENTS)]
    for client in clients:
        client.start()
    reloads: Counter[int] = Counter()
    try:
        cycle = [api.world.versions[name] for name in ("other", "broken", "good")]
        for number in range(ROUNDS):
            version = cycle[number % len(cycle)]
            reloads[
                api.post("/v1/model/reload", "admin", json={"version": version}).status_code
            ] += 1
    finally:
        stop.set()
        for client in clients:
            client.join()
    assert reloads == {200: ROUNDS * 2 // 3, 409: ROUNDS // 3}
    assert set(statuses) == {200}, statuses
    assert sum(statuses.values()) >= ROUNDS
    good, other = api.world.versions["good"], api.world.versions["other"]
    assert versions == {f"{MODEL_NAME}/{good}", f"{MODEL_NAME}/{other}"}
