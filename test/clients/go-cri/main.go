// go-cri: a CRI client on grpc-go (Debian's golang-google-grpc-dev), driven by
// the Node tests in test/integration/clients. It knows no CRI messages: each
// stdin line {"method", "request" (base64 protobuf), "timeoutMs"} is one unary
// call and gets one stdout line, {"response": base64} or {"code", "message"}.
// The Node side encodes and decodes with cradle's own proto.
//
// -authority picks how the connection is dialled:
//   path       as kubelet <= 1.29 and crictl 1.26 do: the bare socket path is
//              the target, so grpc-go sends it as :authority
//   localhost  as kubelet >= 1.30 does: grpc.WithAuthority("localhost")
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// rawCodec passes protobuf bytes through; the content-type stays application/grpc.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*p = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "raw" }

type request struct {
	Method    string `json:"method"`
	Request   string `json:"request"`
	TimeoutMs int    `json:"timeoutMs"`
}

type reply struct {
	Response *string `json:"response,omitempty"`
	Code     *uint32 `json:"code,omitempty"`
	Message  string  `json:"message,omitempty"`
}

func main() {
	socket := flag.String("socket", "", "path of the CRI unix socket")
	authority := flag.String("authority", "path", "path (kubelet <= 1.29) or localhost (kubelet >= 1.30)")
	flag.Parse()
	if *socket == "" || (*authority != "path" && *authority != "localhost") {
		flag.Usage()
		os.Exit(2)
	}

	// kubelet's util.GetAddressAndDialer: the address is the path, the dialer a unix dial.
	opts := []grpc.DialOption{
		grpc.WithInsecure(),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", addr)
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16 * 1024 * 1024)),
	}
	if *authority == "localhost" {
		opts = append(opts, grpc.WithAuthority("localhost"))
	}
	conn, err := grpc.DialContext(context.Background(), *socket, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		os.Exit(1)
	}
	defer conn.Close()

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			fmt.Fprintln(os.Stderr, "bad request line:", err)
			os.Exit(2)
		}
		if err := out.Encode(call(conn, req)); err != nil {
			os.Exit(1)
		}
	}
}

func call(conn *grpc.ClientConn, req request) reply {
	body, err := base64.StdEncoding.DecodeString(req.Request)
	if err != nil {
		return failure(2, "bad base64 request: "+err.Error()) // INVALID_ARGUMENT, never sent
	}
	timeout := time.Duration(req.TimeoutMs) * time.Millisecond
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var resp []byte
	if err := conn.Invoke(ctx, req.Method, body, &resp, grpc.ForceCodec(rawCodec{})); err != nil {
		s := status.Convert(err)
		return failure(uint32(s.Code()), s.Message())
	}
	encoded := base64.StdEncoding.EncodeToString(resp)
	return reply{Response: &encoded}
}

func failure(code uint32, message string) reply {
	return reply{Code: &code, Message: message}
}
