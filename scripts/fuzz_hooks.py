"""schemathesis hooks for scripts/fuzz.sh: each DELETE of the fixture
project gets a project of its own, made just before the call, so every
delete acts on a real project and the fixture survives."""

import json
import os
import urllib.request
import uuid

import schemathesis


def new_project():
    url = f"{os.environ['PRICKLE_URL']}/api/organizations/{os.environ['PRICKLE_ORG']}/projects/"
    request = urllib.request.Request(
        url,
        data=json.dumps({"name": f"Doomed {uuid.uuid4()}"}).encode(),
        headers={
            "Authorization": f"Bearer {os.environ['PRICKLE_KEY']}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["id"]


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    params = case.path_parameters or {}
    if case.method.upper() == "DELETE" and str(params.get("id")) == os.environ["PRICKLE_FIXTURE_ID"]:
        params["id"] = new_project()
