"""Lists projects (and members, once the document has them) with a client
that openapi-python-client generated from prickle's /api/schema/.

Usage: python generated_client_check.py PACKAGE_DIR BASE_URL KEY ORGANIZATION_ID PROJECT_ID
"""

import importlib
import pkgutil
import sys
import uuid


def operations(package):
    """Every generated operation module, by operation id."""
    api = importlib.import_module(f"{package}.api")
    found = {}
    for tag in pkgutil.iter_modules(api.__path__):
        tag_module = importlib.import_module(f"{package}.api.{tag.name}")
        for op in pkgutil.iter_modules(tag_module.__path__):
            found[op.name] = importlib.import_module(f"{package}.api.{tag.name}.{op.name}")
    return found


def main():
    package_dir, base_url, key, organization_id, project_id = sys.argv[1:6]
    sys.path.insert(0, package_dir)
    package = "prickle_client"
    client_module = importlib.import_module(package)
    client = client_module.AuthenticatedClient(base_url=base_url, token=key)
    ops = operations(package)
    org = uuid.UUID(organization_id)

    page = ops["list_2"].sync(client=client, organization_id=org)
    assert page is not None, "list_2 returned nothing"
    ids = [p.id for p in page.results]
    assert page.count == len(ids) and int(project_id) in ids, (page.count, ids)
    print(f"projects: {page.count} listed through the generated client: {ids}")

    detail = ops["retrieve_2"].sync(client=client, organization_id=org, id=int(project_id))
    assert detail is not None and detail.id == int(project_id), detail
    print(f"project {detail.id}: {detail.name!r}, timezone {detail.timezone}")

    if "members_list" in ops:
        members = ops["members_list"].sync(client=client, organization_id=org)
        assert members is not None and members.count >= 1, members
        print(f"members: {members.count} listed through the generated client")
    else:
        print("members: the document has no members_list yet")
    print("generated client: ok")


if __name__ == "__main__":
    main()
