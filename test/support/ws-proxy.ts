/**
 * A WebSocket-to-TCP proxy, what Neon runs in front of Postgres, so that the Neon driver can be
 * tested against the local server: the target comes from `?address=host:port`, bytes are
 * piped both ways.
 */
import { createServer } from "node:http";
import { connect } from "node:net";
import { WebSocketServer } from "ws";
import type { OpenOptions } from "../../src/db/connection.ts";

export interface WsProxy {
  readonly port: number;
  close(): Promise<void>;
}

export interface WsProxyFaults {
  /**
   * When a client's message holds this text (a statement's, or "COMMIT\0"), it still reaches the
   * server, and then the WebSocket is cut (`how`: "close" sends a closing handshake, "terminate"
   * drops the TCP connection) without passing the server's answers, as a proxy restarting would.
   */
  cutOn?: { marker: Buffer; how: "close" | "terminate" };
  /** When a client's message holds this text, it reaches the server and from then on nothing is passed either way, nothing closed: a stalled network. */
  stallOn?: Buffer;
  /** Every WebSocket upgrade is refused with this HTTP status (401, 403, 404, 502), as a gateway would. */
  refuseUpgrade?: number;
}

export async function startWsProxy(faults: WsProxyFaults = {}): Promise<WsProxy> {
  const http = createServer((_request, response) => response.writeHead(426).end("Upgrade Required"));
  const server = new WebSocketServer({ noServer: true });
  http.on("upgrade", (request, socket, head) => {
    if (faults.refuseUpgrade !== undefined) {
      socket.end(`HTTP/1.1 ${faults.refuseUpgrade} Refused\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nConnection: close\r\n\r\nrefused`);
      return;
    }
    server.handleUpgrade(request, socket, head, (ws) => server.emit("connection", ws, request));
  });
  server.on("connection", (socket, request) => {
    const address = new URL(request.url ?? "/", "http://proxy").searchParams.get("address") ?? "";
    const separator = address.lastIndexOf(":");
    const tcp = connect(Number(address.slice(separator + 1)), address.slice(0, separator));
    let withheld = false;
    // Error handlers on both sides: an unhandled 'error' (refused target, proxy closing) crashes the process.
    tcp.on("error", () => socket.close());
    socket.on("error", () => tcp.destroy());
    tcp.on("data", (data) => withheld || socket.send(data));
    tcp.on("close", () => withheld || socket.close());
    socket.on("message", (data) => {
      if (withheld) return;
      const chunk = data as Buffer;
      tcp.write(chunk);
      if (faults.stallOn && chunk.includes(faults.stallOn)) withheld = true;
      if (faults.cutOn && chunk.includes(faults.cutOn.marker)) {
        withheld = true;
        if (faults.cutOn.how === "close") socket.close();
        else socket.terminate();
      }
    });
    socket.on("close", () => tcp.destroy());
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
  const address = http.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        http.closeAllConnections();
        http.close(() => resolve());
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
