"""A gRPC client nobody here wrote: grpcio with stubs generated from the
project's .proto by grpc_tools, driving every SecretService RPC.

    grpc_client.py PROTO_DIR OUT_DIR ADDR TOKEN LIST_ONLY_TOKEN [CA_FILE [CLIENT_CERT CLIENT_KEY]]

With CA_FILE the channel is TLS (h2 by ALPN) and trusts only that CA, and
presents CLIENT_CERT when given (mutual TLS); without it, plain text (h2c).

Prints one JSON object: each step's result or its status code and details.
"""
import base64
import json
import sys

from grpc_tools import protoc

proto_dir, out_dir, addr, token, list_only = sys.argv[1:6]
ca_file = sys.argv[6] if len(sys.argv) > 6 else None
client_cert, client_key = sys.argv[7:9] if len(sys.argv) > 8 else (None, None)
rc = protoc.main(["protoc", f"-I{proto_dir}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
                  f"{proto_dir}/hush/v1/secret_service.proto"])
if rc != 0:
    sys.exit(f"protoc failed: {rc}")
sys.path.insert(0, out_dir)

import grpc  # noqa: E402
from hush.v1 import secret_service_pb2 as pb  # noqa: E402
from hush.v1 import secret_service_pb2_grpc as rpc  # noqa: E402
from google.protobuf.json_format import MessageToDict  # noqa: E402

def read(path):
    with open(path, "rb") as f:
        return f.read()


if ca_file:
    identity = {"private_key": read(client_key), "certificate_chain": read(client_cert)} if client_cert else {}
    channel = grpc.secure_channel(addr, grpc.ssl_channel_credentials(root_certificates=read(ca_file), **identity))
else:
    channel = grpc.insecure_channel(addr)
stub = rpc.SecretServiceStub(channel)
auth = [("authorization", f"Bearer {token}")]
report = {}


def step(name, call, metadata=auth):
    try:
        report[name] = {"ok": MessageToDict(call(metadata), preserving_proto_field_name=True)}
    except grpc.RpcError as e:
        report[name] = {"code": e.code().name, "details": e.details()}


step("create_git", lambda md: stub.CreateSecret(pb.CreateSecretRequest(
    name="git-slot", value=pb.SecretValue(git_secret=pb.GitSecret(username="bot", token="GRPC-git-token-31"))), metadata=md))
step("create_registry", lambda md: stub.CreateSecret(pb.CreateSecretRequest(
    name="reg_slot", value=pb.SecretValue(registry_secret=pb.RegistrySecret(
        username="puller", password="GRPC-reg-pw-77", server_address=""))), metadata=md))
step("create_generic", lambda md: stub.CreateSecret(pb.CreateSecretRequest(
    name="blob", value=pb.SecretValue(generic_secret=pb.GenericSecret(value=b"\x00\xffGRPC-bytes"))), metadata=md))
step("rotate_git", lambda md: stub.CreateSecret(pb.CreateSecretRequest(
    name="git-slot", value=pb.SecretValue(git_secret=pb.GitSecret(username="bot", token="GRPC-git-token-32"))), metadata=md))
step("type_change", lambda md: stub.CreateSecret(pb.CreateSecretRequest(
    name="git-slot", value=pb.SecretValue(generic_secret=pb.GenericSecret(value=b"x"))), metadata=md))
step("cas_conflict", lambda md: stub.CreateSecret(pb.CreateSecretRequest(
    name="blob", cas=7, value=pb.SecretValue(generic_secret=pb.GenericSecret(value=b"y"))), metadata=md))
step("bad_name", lambda md: stub.CreateSecret(pb.CreateSecretRequest(
    name="has/slash", value=pb.SecretValue(git_secret=pb.GitSecret(username="u", token="t"))), metadata=md))
step("no_value", lambda md: stub.CreateSecret(pb.CreateSecretRequest(name="empty"), metadata=md))
step("get_git", lambda md: stub.GetSecret(pb.GetSecretRequest(name="git-slot"), metadata=md))
step("get_registry", lambda md: stub.GetSecret(pb.GetSecretRequest(name="reg_slot"), metadata=md))
step("get_generic", lambda md: stub.GetSecret(pb.GetSecretRequest(name="blob"), metadata=md))
step("list", lambda md: stub.ListSecrets(pb.ListSecretsRequest(), metadata=md))
step("get_missing", lambda md: stub.GetSecret(pb.GetSecretRequest(name="nope"), metadata=md))
step("unauthenticated", lambda md: stub.GetSecret(pb.GetSecretRequest(name="git-slot"), metadata=md), metadata=[])
step("permission_denied", lambda md: stub.GetSecret(pb.GetSecretRequest(name="git-slot"), metadata=md),
     metadata=[("authorization", f"Bearer {list_only}")])
step("list_with_list_only", lambda md: stub.ListSecrets(pb.ListSecretsRequest(), metadata=md),
     metadata=[("authorization", f"Bearer {list_only}")])
step("delete", lambda md: stub.DeleteSecret(pb.DeleteSecretRequest(name="reg_slot"), metadata=md))
step("delete_again", lambda md: stub.DeleteSecret(pb.DeleteSecretRequest(name="reg_slot"), metadata=md))
step("get_deleted", lambda md: stub.GetSecret(pb.GetSecretRequest(name="reg_slot"), metadata=md))

step("unknown_method", lambda md: channel.unary_unary("/hush.v1.Nothing/Here")(b"", metadata=md))

if ca_file:
    plain_stub = rpc.SecretServiceStub(grpc.insecure_channel(addr))
    step("plaintext_to_tls", lambda md: plain_stub.ListSecrets(pb.ListSecretsRequest(), metadata=md, timeout=10))
if client_cert:
    anonymous = grpc.secure_channel(addr, grpc.ssl_channel_credentials(root_certificates=read(ca_file)))
    no_cert_stub = rpc.SecretServiceStub(anonymous)
    step("no_client_certificate", lambda md: no_cert_stub.ListSecrets(pb.ListSecretsRequest(), metadata=md, timeout=10))

generic = report.get("get_generic", {}).get("ok", {}).get("value", {}).get("generic_secret", {}).get("value")
if generic is not None:
    report["generic_bytes_hex"] = base64.b64decode(generic).hex()
print(json.dumps(report))
