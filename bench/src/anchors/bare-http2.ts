// Anchor 1: a bare node:http2 handler. Reads the request body and answers a constant response
// (a gRPC frame + trailers for gRPC, a two-field protobuf for Connect): the ceiling of Node's HTTP/2.
import { createServer } from "node:http2";

const port = Number(process.env.PORT);
const grpcBody = Buffer.from([0, 0, 0, 0, 4, 8, 1, 16, 1]); // frame of {first: 1, last: 1}
const protoBody = grpcBody.subarray(5);

const server = createServer();
server.on("stream", (stream, headers) => {
  const grpc = String(headers["content-type"] ?? "").startsWith("application/grpc");
  stream.on("data", () => {});
  stream.on("end", () => {
    if (grpc) {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(grpcBody);
    } else {
      stream.respond({ ":status": 200, "content-type": "application/proto" });
      stream.end(protoBody);
    }
  });
  stream.on("error", () => {});
});
server.listen(port, process.env.HOST);
process.on("SIGTERM", () => process.exit(0));
