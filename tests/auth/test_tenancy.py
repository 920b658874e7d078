"""A client sees only its own project's resources."""

from __future__ import annotations

from tests.conftest import RunningServer


def test_one_project_cannot_read_another_projects_resource(server: RunningServer) -> None:
    first = server.fhir_client(new_project="First")
    second = server.fhir_client(new_project="Second")
    created = first.post("/Patient", json={"resourceType": "Patient"}).json()
    assert first.get(f"/Patient/{created['id']}").status_code == 200
    assert second.get(f"/Patient/{created['id']}").status_code == 404


def test_same_client_chosen_id_in_two_projects_are_separate_resources(server: RunningServer) -> None:
    first = server.fhir_client(new_project="First")
    second = server.fhir_client(new_project="Second")
    first.put("/Patient/same", json={"resourceType": "Patient", "id": "same", "gender": "male"})
    second.put("/Patient/same", json={"resourceType": "Patient", "id": "same", "gender": "female"})
    assert first.get("/Patient/same").json()["gender"] == "male"
    assert second.get("/Patient/same").json()["gender"] == "female"


def test_token_endpoint_rejects_a_wrong_secret(server: RunningServer) -> None:
    import httpx

    credentials = server.create_client()
    response = httpx.post(server.base_url + "/oauth2/token", data={"grant_type": "client_credentials"},
                          auth=(credentials["client_id"], "wrong"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_endpoint_accepts_secret_in_the_form(server: RunningServer) -> None:
    import httpx

    credentials = server.create_client()
    response = httpx.post(server.base_url + "/oauth2/token", data={"grant_type": "client_credentials", **credentials})
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


def test_a_project_member_can_read_its_project_but_not_rename_it(server: RunningServer) -> None:
    credentials = server.create_client(new_project="Clinic")
    import httpx

    token = server.token(credentials)
    headers = {"Authorization": f"Bearer {token}"}
    project_url = f"{server.fhir_url}/Project/{credentials['project_id']}"
    project = httpx.get(project_url, headers=headers)
    assert project.status_code == 200 and project.json()["name"] == "Clinic"
    renamed = httpx.put(project_url, headers=headers, json={**project.json(), "name": "Mine"})
    assert renamed.status_code == 403
