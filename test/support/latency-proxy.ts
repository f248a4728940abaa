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
export async function startCuttingProxy(target: { host: string; port: number }, marker: Buffer, cutAfterMs: number): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    let cut = false;
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => sockets.delete(socket));
    }
    client.on("data", (chunk) => {
      if (cut) return;
      upstream.write(chunk);
      if (chunk.includes(marker)) {
        cut = true;
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
        }, cutAfterMs);
      }
    });
    upstream.on("data", (chunk) => cut || client.destroyed || client.write(chunk));
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

/**
 * A TCP proxy that passes everything until the client sends a chunk holding `marker`: that chunk
 * reaches the server, and from then on nothing is passed either way and nothing is closed (until
 * close()), as when a network stalls: the client waits for replies that never come.
 */
export async function startStallingProxy(target: { host: string; port: number }, marker: Buffer): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    let stalled = false;
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => sockets.delete(socket));
    }
    client.on("data", (chunk) => {
      if (stalled) return;
      upstream.write(chunk);
      if (chunk.includes(marker)) stalled = true;
    });
    upstream.on("data", (chunk) => stalled || client.destroyed || client.write(chunk));
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
