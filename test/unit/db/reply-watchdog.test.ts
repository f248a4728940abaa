import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ReplyWatchdog, type DriverTarget } from "../../../src/db/connection.ts";

/** The watchdog reads only the timeouts of its target. */
function target(timeouts: { statementTimeoutMs?: number; connectTimeoutSeconds?: number; replyDeadline?: number }): DriverTarget {
  return { statementTimeoutMs: 0, connectTimeoutSeconds: 1, replyDeadline: undefined, ...timeouts } as DriverTarget;
}

function watchdog(timeouts: Parameters<typeof target>[0]) {
  const stalls: Error[] = [];
  return { dog: new ReplyWatchdog(target(timeouts), (error) => stalls.push(error)), stalls };
}

/** Nothing stalls in the next `ms` - 1 milliseconds, and the network is taken for stalled at `ms`; the stall's words. */
function stallsAfter(stalls: Error[], ms: number): string {
  vi.advanceTimersByTime(ms - 1);
  expect(stalls).toEqual([]);
  vi.advanceTimersByTime(1);
  expect(stalls).toHaveLength(1);
  return stalls[0]!.message;
}

describe("ReplyWatchdog", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("takes the network for stalled when no reply comes within statement_timeout plus the connect timeout", () => {
    const { dog, stalls } = watchdog({ statementTimeoutMs: 1000 });
    dog.sent({ text: "SELECT 1" });
    expect(stallsAfter(stalls, 2000)).toContain("no reply from the server within 2 s");
  });

  it("starts the clock again at each reply, so that a long pipeline of quick statements never stalls", () => {
    const { dog, stalls } = watchdog({ statementTimeoutMs: 1000 });
    for (let i = 0; i < 10; i++) dog.sent({ text: "SELECT 1" });
    for (let i = 0; i < 9; i++) {
      vi.advanceTimersByTime(1500);
      dog.replied();
    }
    expect(stallsAfter(stalls, 2000)).toContain("within 2 s");
  });

  it("gives a script sent as one message statement_timeout for each of its statements", () => {
    const { dog, stalls } = watchdog({ statementTimeoutMs: 1000 });
    dog.sent({ text: "SELECT 1; SELECT 2; SELECT 3" });
    expect(stallsAfter(stalls, 4000)).toContain("within 4 s");
  });

  it("counts a ; inside a literal as no statement of its own", () => {
    const { dog, stalls } = watchdog({ statementTimeoutMs: 1000 });
    dog.sent({ text: "SELECT ';;;'" });
    expect(stallsAfter(stalls, 2000)).toContain("within 2 s");
  });

  it("holds the next statement to its own shorter bound once a script before it has replied", () => {
    const { dog, stalls } = watchdog({ statementTimeoutMs: 1000 });
    dog.sent({ text: "SELECT 1; SELECT 2; SELECT 3" });
    dog.sent({ text: "SELECT 4" });
    vi.advanceTimersByTime(100);
    dog.replied();
    expect(stallsAfter(stalls, 2000)).toContain("within 2 s");
  });

  it("stops watching when every statement has replied", () => {
    const { dog, stalls } = watchdog({ statementTimeoutMs: 1000 });
    dog.sent({ text: "SELECT 1" });
    dog.replied();
    vi.advanceTimersByTime(60_000);
    expect(stalls).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stalls at the run's deadline when it comes before statement_timeout would", () => {
    const { dog, stalls } = watchdog({ statementTimeoutMs: 10_000, replyDeadline: 1_000_000 + 500 });
    dog.sent({ text: "SELECT 1" });
    expect(stallsAfter(stalls, 500)).toContain("no reply from the server by the deadline the run was given");
  });

  it("with a deadline and no statement_timeout, waits for the deadline however many replies come", () => {
    const { dog, stalls } = watchdog({ replyDeadline: 1_000_000 + 5000 });
    for (let i = 0; i < 100; i++) dog.sent({ text: "SELECT 1" });
    for (let i = 0; i < 99; i++) {
      vi.advanceTimersByTime(40);
      dog.replied();
    }
    expect(stallsAfter(stalls, 1040)).toContain("by the deadline");
  });

  it("rejects what it watches when the network stalls", async () => {
    const { dog } = watchdog({ statementTimeoutMs: 1000 });
    dog.sent({ text: "SELECT 1" });
    const watched = dog.watch(new Promise(() => undefined));
    vi.advanceTimersByTime(2000);
    await expect(watched).rejects.toThrow(/no reply from the server within 2 s/);
  });
});

describe("ReplyWatchdog at scale", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // Taking each reply off the front of an array of them moved all the others (≈ 3 s of a
  // 200,000-statement revision): replies now move an index, compacting the array now and then.
  it("follows a pipeline of 200,000 statements to the last one, whose bound is then its own (a revision of that many statements, with a statement_timeout or in the Lambda)", () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["setTimeout", "clearTimeout", "Date"] });
    const { dog, stalls } = watchdog({ statementTimeoutMs: 1000 });
    for (let i = 0; i < 200_000; i++) dog.sent({ text: "SELECT 1" });
    dog.sent({ text: "SELECT 1; SELECT 2; SELECT 3" });
    for (let i = 0; i < 200_000; i++) dog.replied();
    // The script is what is left, with its own bound.
    expect(stallsAfter(stalls, 4000)).toContain("within 4 s");
  });
});
