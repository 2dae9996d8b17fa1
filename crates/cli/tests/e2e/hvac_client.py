"""A Vault client nobody here wrote: hvac, driving every `secrets.kv.v2`
method against hush, plus `is_authenticated()`, `sys.read_health_status()`
and token self-lookup and revocation.

    hvac_client.py URL TOKEN NAMESPACE

Prints one JSON object: each step's result, or the name of the exception it
raised (`{"raised": "InvalidPath"}`), for the Rust test to check.
"""
import json
import sys

import hvac
from hvac import exceptions

url, token, namespace = sys.argv[1:4]
results = {}


def step(name, call):
    try:
        results[name] = call()
    except exceptions.VaultError as e:
        results[name] = {"raised": type(e).__name__, "errors": getattr(e, "errors", None)}


client = hvac.Client(url=url, token=token, namespace=namespace)
kv = client.secrets.kv.v2
step("authenticated", client.is_authenticated)
step("anonymous_authenticated", lambda: hvac.Client(url=url, token="hush_nope", namespace=namespace).is_authenticated())
step("health", lambda: client.sys.read_health_status(method="GET"))
step("health_head", lambda: client.sys.read_health_status().status_code)
step("lookup_self", lambda: client.auth.token.lookup_self()["data"]["type"])

step("configure", lambda: kv.configure(max_versions=5, cas_required=False).status_code)
step("read_configuration", lambda: kv.read_configuration()["data"])
step("create", lambda: kv.create_or_update_secret(path="app/db", secret={"user": "svc", "password": "HV-pw-1"})["data"])
step("update_cas", lambda: kv.create_or_update_secret(path="app/db", secret={"user": "svc", "password": "HV-pw-2"}, cas=1)["data"])
step("stale_cas", lambda: kv.create_or_update_secret(path="app/db", secret={"user": "x"}, cas=1))
step("read", lambda: kv.read_secret_version(path="app/db", raise_on_deleted_version=True)["data"])
step("read_secret", lambda: kv.read_secret(path="app/db")["data"]["data"])
step("read_v1", lambda: kv.read_secret_version(path="app/db", version=1, raise_on_deleted_version=True)["data"]["data"])
step("patch", lambda: kv.patch(path="app/db", secret={"port": "5432"})["data"]["version"])
step("after_patch", lambda: kv.read_secret_version(path="app/db", raise_on_deleted_version=True)["data"]["data"])
step("missing", lambda: kv.read_secret_version(path="app/nope", raise_on_deleted_version=True))
step("list", lambda: kv.list_secrets(path="")["data"]["keys"])
step("list_app", lambda: kv.list_secrets(path="app")["data"]["keys"])
step("update_metadata", lambda: kv.update_metadata(path="app/db", max_versions=4, custom_metadata={"owner": "ci"}).status_code)
step("read_metadata", lambda: kv.read_secret_metadata(path="app/db")["data"])
step("delete_latest", lambda: kv.delete_latest_version_of_secret(path="app/db").status_code)
step("read_deleted", lambda: kv.read_secret_version(path="app/db", raise_on_deleted_version=True))
step("read_deleted_quietly", lambda: kv.read_secret_version(path="app/db", raise_on_deleted_version=False)["data"])
step("undelete", lambda: kv.undelete_secret_versions(path="app/db", versions=[3]).status_code)
step("after_undelete", lambda: kv.read_secret_version(path="app/db", raise_on_deleted_version=True)["data"]["data"])
step("delete_versions", lambda: kv.delete_secret_versions(path="app/db", versions=[1]).status_code)
step("destroy", lambda: kv.destroy_secret_versions(path="app/db", versions=[2]).status_code)
step("versions_after", lambda: kv.read_secret_metadata(path="app/db")["data"]["versions"])
step("delete_all", lambda: kv.delete_metadata_and_all_versions(path="app/db").status_code)
step("gone", lambda: kv.read_secret_metadata(path="app/db"))
step("revoke_self", lambda: client.auth.token.revoke_self().status_code)
step("after_revoke", client.is_authenticated)
print(json.dumps(results))
