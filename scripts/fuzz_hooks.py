"""schemathesis hooks for scripts/fuzz.sh: an operation that would use its
fixture up gets an object of its own, made just before the call, so it acts
on a real object and the fixture survives for the operations after it:

- DELETE of a project, member, invite, role, role membership or organization;
- POST /api/signup/{invite_id}/ (a sign-up consumes its invite; the fresh
  one comes with its sign-up token in the query).
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


def new_invite_with_token():
    """A new invite: its id, and the sign-up token from its link (shown on create only)."""
    email = f"fuzz-{uuid.uuid4().hex}@example.com"
    invite = call("POST", org_path("invites/"), {"target_email": email, "level": 1})
    return invite["id"], invite["signup_url"].split("?token=", 1)[1]


def new_invite():
    return new_invite_with_token()[0]


def new_member():
    """A new account that joins the fixture organization through an invite."""
    invite, token = new_invite_with_token()
    body = {"first_name": "Doomed", "password": f"pw-{uuid.uuid4().hex}"}
    return call("POST", f"/api/signup/{invite}/?token={token}", body, key=False)["uuid"]


def fresh_signup(case):
    """A sign-up on the fixture invite gets an invite of its own, with its token."""
    invite, token = new_invite_with_token()
    case.path_parameters["invite_id"] = invite
    case.query = {**(case.query or {}), "token": token}


def new_role():
    return call("POST", org_path("roles/"), {"name": f"Doomed {uuid.uuid4()}"})["id"]


def new_role_membership():
    """A fresh member added to the fixture role (the path keeps PRICKLE_ROLE)."""
    user = new_member()
    path = org_path(f"roles/{os.environ['PRICKLE_ROLE']}/role_memberships/")
    return call("POST", path, {"user_uuid": user})["id"]


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
    ("DELETE", "/api/organizations/{organization_id}/roles/{id}/", "id", "PRICKLE_ROLE", new_role),
    (
        "DELETE",
        "/api/organizations/{organization_id}/roles/{role_id}/role_memberships/{id}/",
        "id",
        "PRICKLE_ROLE_MEMBERSHIP",
        new_role_membership,
    ),
    ("DELETE", "/api/organizations/{organization_id}/", "organization_id", "PRICKLE_ORG", new_organization),
]


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    params = case.path_parameters
    if not params:
        return
    if (
        case.method.upper() == "POST"
        and case.operation.path == "/api/signup/{invite_id}/"
        and str(params.get("invite_id")) == os.environ["PRICKLE_INVITE"]
    ):
        fresh_signup(case)
        return
    for method, path, name, fixture, make in FRESH:
        # Every case of these operations acts on an object of its own, whatever
        # value it came with: schemathesis also fills path parameters from its
        # pool of ids seen in earlier responses, so any case may name a fixture.
        if case.method.upper() == method and case.operation.path == path:
            params[name] = make()
