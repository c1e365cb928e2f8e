"""A CRI client on Debian's python3-grpcio (gRPC C-core), driven by the Node
tests in test/integration/clients. Same line protocol as go-cri: each stdin line
{"method", "request" (base64 protobuf), "timeoutMs"} is one unary call answered
by one stdout line, {"response": base64} or {"code", "message"}.

usage: /usr/bin/python3 python_cri.py SOCKET [AUTHORITY]
AUTHORITY overrides :authority (grpc.default_authority), e.g. the socket path as
grpc-go clients send it; without it C-core sends its default ("localhost").
"""
import base64
import json
import sys

import grpc


def main():
    socket = sys.argv[1]
    options = [("grpc.max_receive_message_length", 16 * 1024 * 1024)]
    if len(sys.argv) > 2:
        options.append(("grpc.default_authority", sys.argv[2]))
    with grpc.insecure_channel("unix://" + socket, options=options) as channel:
        for line in sys.stdin:
            req = json.loads(line)
            # No serializers: the callable sends and returns bytes as they are.
            rpc = channel.unary_unary(req["method"], request_serializer=None, response_deserializer=None)
            try:
                resp = rpc(base64.b64decode(req["request"]), timeout=req.get("timeoutMs", 60000) / 1000)
                out = {"response": base64.b64encode(resp).decode()}
            except grpc.RpcError as err:
                out = {"code": err.code().value[0], "message": err.details() or ""}
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
