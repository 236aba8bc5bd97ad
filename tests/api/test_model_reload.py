"""The model: loaded once at start-up, swapped atomically on reload, kept when a reload fails."""

from __future__ import annotations

import threading

from api_world import Api


def _served_version(api: Api) -> str:
    body = api.post("/v1/score", "crm", json={"lead_ids": ["L01"]}).json()
    version: str = body["model_version"]
    return version


def test_the_champion_is_served_from_start_up(api: Api) -> None:
    body = api.get("/v1/model", "officer").json()
    assert body["model_version"] == "lead-scorer/1"
    assert body["source"] == "alias 'champion'"
    assert _served_version(api) == "lead-scorer/1"


def test_a_reload_that_fails_keeps_the_old_model_serving(api: Api) -> None:
    broken = api.world.versions["broken"]
    for request in ({"version": broken}, {"version": "999"}, {"alias": "no-such-alias"}):
        response = api.post("/v1/model/reload", "admin", json=request)
        assert response.status_code == 409, response.text
        assert response.json()["detail"].endswith("still serving lead-scorer/1")
        assert api.get("/v1/model", "crm").json()["model_version"] == "lead-scorer/1"
        assert _served_version(api) == "lead-scorer/1"
    assert api.get("/v1/model", "crm").json()["last_error"] is not None


def test_a_reload_swaps_the_model_and_every_answer_names_the_new_one(api: Api) -> None:
    other = api.world.versions["other"]
    response = api.post("/v1/model/reload", "admin", json={"version": other})
    assert response.status_code == 200
    assert response.json() == {
        "model_version": f"lead-scorer/{other}",
        "previous_version": "lead-scorer/1",
        "source": f"version {other}",
    }
    assert _served_version(api) == f"lead-scorer/{other}"
    metrics = api.client.get("/metrics").text
    assert f'leadscore_model_info{{version="lead-scorer/{other}"}} 1.0' in metrics
    assert 'leadscore_model_info{version="lead-scorer/1"}' not in metrics
    back = api.post("/v1/model/reload", "admin")
    assert back.json()["model_version"] == "lead-scorer/1"


def test_scores_keep_flowing_while_the_model_is_reloaded(api: Api) -> None:
    statuses: list[int] = []
    versions: set[str] = set()

    def hammer() -> None:
        for _ in range(15):
            response = api.post("/v1/score", "crm", json={"lead_ids": ["L02"]})
            statuses.append(response.status_code)
            versions.add(response.json().get("model_version", ""))

    worker = threading.Thread(target=hammer)
    worker.start()
    for version in (api.world.versions["other"], api.world.versions["good"]):
        assert api.post("/v1/model/reload", "admin", json={"version": version}).status_code == 200
    worker.join()
    assert set(statuses) == {200}
    assert versions <= {"lead-scorer/1", f"lead-scorer/{api.world.versions['other']}"}


def test_a_reload_body_with_an_unknown_field_is_refused(api: Api) -> None:
    response = api.post("/v1/model/reload", "admin", json={"versoin": "2"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "versoin"]


def _move_champion(api: Api, version: str) -> None:
    import mlflow

    uri = api.ctx.config.tracking_uri
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.set_registered_model_alias("lead-scorer", "champion", version)


def test_the_process_follows_the_champion_alias_and_keeps_a_pinned_version(api: Api) -> None:
    """What each worker's follower thread does every LEADSCORE_MODEL_POLL_S seconds."""
    holder = api.ctx.model
    other, good = api.world.versions["other"], api.world.versions["good"]
    assert holder.follow_alias() is None  # the alias has not moved
    try:
        _move_champion(api, other)
        followed = holder.follow_alias()
        assert followed is not None
        assert followed.version == f"lead-scorer/{other}"
        assert _served_version(api) == f"lead-scorer/{other}"
        assert holder.follow_alias() is None
        pinned = api.post("/v1/model/reload", "admin", json={"version": good})
        assert pinned.status_code == 200
        assert holder.follow_alias() is None  # a pin stays until the alias moves again
        assert _served_version(api) == f"lead-scorer/{good}"
    finally:
        _move_champion(api, good)
        holder.follow_alias()
    assert _served_version(api) == "lead-scorer/1"


def test_a_champion_that_fails_to_load_is_not_followed_nor_retried_at_every_look(
    api: Api,
) -> None:
    import pytest

    from serving.model import RETRY_FAILED_AFTER_LOOKS, ModelLoadError

    holder = api.ctx.model
    try:
        _move_champion(api, api.world.versions["broken"])
        with pytest.raises(ModelLoadError):
            holder.follow_alias()
        assert _served_version(api) == "lead-scorer/1"
        for _ in range(RETRY_FAILED_AFTER_LOOKS):
            assert holder.follow_alias() is None  # not loaded again on every look
        with pytest.raises(ModelLoadError):
            holder.follow_alias()  # ... but again after a while
        assert _served_version(api) == "lead-scorer/1"
    finally:
        _move_champion(api, api.world.versions["good"])
        holder.follow_alias()
    assert _served_version(api) == "lead-scorer/1"
