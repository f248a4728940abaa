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

/**
 * A TCP proxy that passes its first connection through and holds every later one (a cancel
 * request comes on a new connection): nothing of it reaches the server until release(), as on a
 * network where a new connection takes long to open; one its client closed meanwhile never
 * does. `held` resolves once a connection is held.
 */
export async function startHoldingProxy(target: { host: string; port: number }): Promise<LatencyProxy & { held: Promise<void>; release(): void }> {
  const sockets = new Set<Socket>();
  const pending: (() => void)[] = [];
  let released = false;
  let heldOne: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (heldOne = resolve));
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  };
  const pass = (client: Socket, buffered: Buffer[]) => {
    if (client.destroyed) return;
    const upstream = connect(target.port, target.host);
    track(upstream);
    for (const chunk of buffered) upstream.write(chunk);
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => client.destroyed || client.write(chunk));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  };
  let connections = 0;
  const server = createServer((client) => {
    track(client);
    if (connections++ === 0 || released) return pass(client, []);
    const buffered: Buffer[] = [];
    const collect = (chunk: Buffer) => buffered.push(chunk);
    client.on("data", collect);
    pending.push(() => {
      client.off("data", collect);
      pass(client, buffered);
    });
    heldOne();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    held,
    release: () => {
      released = true;
      for (const go of pending.splice(0)) go();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
