"""schemathesis hooks for scripts/fuzz.sh: an operation that would use its
fixture up gets an object of its own, made just before the call, so it acts
on a real object and the fixture survives for the operations after it:

- DELETE of a project, member, invite or organization;
- POST /api/signup/{invite_id}/ (a sign-up consumes its invite).
"""

import json
import os
import urllib.request
import uuid

import schemathesis


def call(method, path, body, key=True):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {os.environ['PRICKLE_KEY']}"
    request = urllib.request.Request(
        os.environ["PRICKLE_URL"] + path,
        data=json.dumps(body).encode(),
        headers=headers,
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def org_path(rest):
    return f"/api/organizations/{os.environ['PRICKLE_ORG']}/{rest}"


def new_project():
    return call("POST", org_path("projects/"), {"name": f"Doomed {uuid.uuid4()}"})["id"]


def new_invite():
    email = f"fuzz-{uuid.uuid4().hex}@example.com"
    return call("POST", org_path("invites/"), {"target_email": email, "level": 1})["id"]


def new_member():
    """A new account that joins the fixture organization through an invite."""
    invite = new_invite()
    body = {"first_name": "Doomed", "password": f"pw-{uuid.uuid4().hex}"}
    return call("POST", f"/api/signup/{invite}/", body, key=False)["uuid"]


def new_organization():
    return call("POST", "/api/organizations/", {"name": f"Doomed {uuid.uuid4()}"})["id"]


# (method, path template, path parameter, fixture variable, maker)
FRESH = [
    ("DELETE", "/api/organizations/{organization_id}/projects/{id}/", "id", "PRICKLE_PROJECT", new_project),
    ("DELETE", "/api/projects/{id}/", "id", "PRICKLE_PROJECT", new_project),
    (
        "DELETE",
        "/api/organizations/{organization_id}/members/{user__uuid}/",
        "user__uuid",
        "PRICKLE_MEMBER",
        new_member,
    ),
    ("DELETE", "/api/organizations/{organization_id}/invites/{id}/", "id", "PRICKLE_INVITE", new_invite),
    ("DELETE", "/api/organizations/{organization_id}/", "organization_id", "PRICKLE_ORG", new_organization),
    ("POST", "/api/signup/{invite_id}/", "invite_id", "PRICKLE_INVITE", new_invite),
]


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    params = case.path_parameters
    if not params:
        return
    for method, path, name, fixture, make in FRESH:
        if (
            case.method.upper() == method
            and case.operation.path == path
            and str(params.get(name)) == os.environ[fixture]
        ):
            params[name] = make()
