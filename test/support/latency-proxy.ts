/**
 * A TCP proxy that holds every chunk for `latencyMs` in each direction, to make round trips
 * visible in elapsed time (a pipeline costs one, sequential statements one each).
 */
import { connect, createServer, type Socket } from "node:net";

export interface LatencyProxy {
  readonly port: number;
  close(): Promise<void>;
}

export async function startLatencyProxy(target: { host: string; port: number }, latencyMs: number): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => sockets.delete(socket));
    }
    // Same delay for every chunk: timers of equal duration fire in order, so bytes stay ordered.
    const relay = (from: Socket, to: Socket) => {
      from.on("data", (chunk) => setTimeout(() => to.destroyed || to.write(chunk), latencyMs));
      from.on("close", () => setTimeout(() => to.destroy(), latencyMs));
    };
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A TCP proxy that passes everything until the client sends a chunk holding `marker` (say a
 * simple-protocol "COMMIT"): that chunk reaches the server, whose answers are then withheld,
 * and after `cutAfterMs` both connections are closed. The client sees its connection lost with
 * the statement sent, as after a network failure.
 */
export function startCuttingProxy(target: { host: string; port: number }, marker: Buffer, cutAfterMs: number): Promise<LatencyProxy> {
  return startMarkerProxy(target, marker, (client, upstream) => {
    setTimeout(() => {
      client.destroy();
      upstream.destroy();
    }, cutAfterMs);
  });
}

/**
 * A TCP proxy that passes everything until the client sends a chunk holding `marker`: that chunk
 * reaches the server, and from then on nothing is passed either way and nothing is closed (until
 * close()), as when a network stalls: the client waits for replies that never come.
 */
export function startStallingProxy(target: { host: string; port: number }, marker: Buffer): Promise<LatencyProxy> {
  return startMarkerProxy(target, marker, () => undefined);
}

/** Passes everything until the client sends `marker` (which still reaches the server), then nothing either way; `afterMarker` then acts on both sockets. */
async function startMarkerProxy(target: { host: string; port: number }, marker: Buffer, afterMarker: (client: Socket, upstream: Socket) => void): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    let withheld = false;
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => sockets.delete(socket));
    }
    client.on("data", (chunk) => {
      if (withheld) return;
      upstream.write(chunk);
      if (chunk.includes(marker)) {
        withheld = true;
        afterMarker(client, upstream);
      }
    });
    upstream.on("data", (chunk) => withheld || client.destroyed || client.write(chunk));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
