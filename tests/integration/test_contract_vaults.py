"""The seeds' official clients against Coffer: vaults and health. Every body sent is one the spec
allows, and every answer is validated against the spec's schema (spec_schema.py)."""
import requests

from spec_schema import check_request, check_response


def test_health_answers_the_health_response(server):
    body = check_response("GET", "/v1/health", requests.get(server.url + "/v1/health"), 200)
    assert body["status"] == "healthy"


def test_vault_create_get_list_delete(api):
    sent = check_request("POST", "/v1/vaults", {"name": "payments", "description": "stripe keys"})
    created = check_response("POST", "/v1/vaults", api.post(api.base + "/v1/vaults", json=sent), 201)
    assert created["name"] == "payments" and created["description"] == "stripe keys"
    assert created["created_by_type"] == "user"
    got = check_response("GET", "/v1/vaults/{vault_id}",
                         api.get(f"{api.base}/v1/vaults/{created['id']}"), 200)
    assert got["id"] == created["id"]
    listed = check_response("GET", "/v1/vaults", api.get(api.base + "/v1/vaults"), 200)
    assert [v["id"] for v in listed["vaults"]] == [created["id"]]
    check_response("DELETE", "/v1/vaults/{vault_id}",
                   api.delete(f"{api.base}/v1/vaults/{created['id']}"), 204)
