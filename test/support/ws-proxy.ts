/**
 * A WebSocket-to-TCP proxy, what Neon runs in front of Postgres, so that the Neon driver can be
 * tested against the local server: the target comes from `?address=host:port`, bytes are
 * piped both ways.
 */
import { connect } from "node:net";
import { WebSocketServer } from "ws";
import type { OpenOptions } from "../../src/db/connection.ts";

export interface WsProxy {
  readonly port: number;
  close(): Promise<void>;
}

export async function startWsProxy(): Promise<WsProxy> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  server.on("connection", (socket, request) => {
    const address = new URL(request.url ?? "/", "http://proxy").searchParams.get("address") ?? "";
    const separator = address.lastIndexOf(":");
    const tcp = connect(Number(address.slice(separator + 1)), address.slice(0, separator));
    // Error handlers on both sides: an unhandled 'error' (refused target, proxy closing) crashes the process.
    tcp.on("error", () => socket.close());
    socket.on("error", () => tcp.destroy());
    tcp.on("data", (data) => socket.send(data));
    tcp.on("close", () => socket.close());
    socket.on("message", (data) => tcp.write(data as Buffer));
    socket.on("close", () => tcp.destroy());
  });
  server.on("error", () => undefined);
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

/** The openConnection options that send the Neon driver through the proxy, in plain ws and plain Postgres protocol. */
export function neonTestOptions(proxyPort: number): OpenOptions {
  return {
    driver: "neon",
    neon: {
      wsProxy: (host, port) => `127.0.0.1:${proxyPort}/v2?address=${host}:${port}`,
      useSecureWebSocket: false,
      pipelineTLS: false,
      // The default pipelines a cleartext password with the startup message, which fails against SCRAM.
      pipelineConnect: false,
    },
  };
}
