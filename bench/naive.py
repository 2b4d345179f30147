"""The baseline peer flow: a straightforward Greenhouse integration, one Harvest call per step, no index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

NOTE = "Exported from LinkedIn Recruiter"


class NaiveGreenhouse:
    """Per exported candidate: look up by email when there is one, else create, add the application, add a note.

    This is what an integration without an identity index does; it cannot see a person the ATS holds under
    a LinkedIn URL only, which is why its URL-only people become duplicates.
    """

    def __init__(self, http: httpx.Client, *, api_url: str, client_id: str, client_secret: str,
                 user_id: int) -> None:
        self._http = http
        self._api = api_url.rstrip("/")
        self._credentials = (client_id, client_secret)
        self._user_id = user_id
        self._token: str | None = None
        self.requests = 0  # HTTP requests sent, the token request included (as the adapters count)

    def import_candidate(self, *, first_name: str, last_name: str, profile_url: str, emails: Sequence[str],
                         job_id: str) -> None:
        if emails and self._request("GET", "/v3/candidates", params={"email": emails[0]}):
            return  # found by email: a naive integration stops here (and never adds the application)
        created = self._request("POST", "/v3/candidates", json={
            "first_name": first_name, "last_name": last_name,
            "email_addresses": [{"value": e, "type": "personal"} for e in emails],
            "social_media_addresses": [{"value": profile_url}]})
        candidate_id = (created.get("candidate") or created)["id"]
        self._request("POST", "/v3/applications", json={"candidate_id": candidate_id, "job_id": int(job_id)})
        self._request("POST", "/v3/notes", json={"candidate_id": candidate_id, "body": NOTE,
                                                 "visibility": "private", "note_type": "NOTE"})

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self._bearer()}"}
        self.requests += 1
        response = self._http.request(method, f"{self._api}{path}", headers=headers, **kwargs)
        response.raise_for_status()  # the baseline never expects an error; one would end the run
        return response.json()

    def _bearer(self) -> str:
        if self._token is None:
            self.requests += 1
            response = self._http.post(f"{self._api}/token", auth=self._credentials,
                                       data={"grant_type": "client_credentials", "sub": str(self._user_id)})
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return self._token
