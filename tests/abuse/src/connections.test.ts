import http2 from "node:http2";
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { abuseStack, bearer, responsiveness, tokens } from "./testing/stack.js";

// Small limits, so that each attack reaches them within a bounded number of sockets and streams.
const stack = abuseStack({
  MAX_CONNECTIONS_PER_PEER: "200",
  HEADERS_TIMEOUT_MS: "1000",
  REQUEST_BODY_TIMEOUT_MS: "1000",
});
const opened: (net.Socket | http2.ClientHttp2Session)[] = [];
afterAll(() => {
  for (const connection of opened) connection.destroy();
});

const NEXT = "/im.sequence.v1.SequenceService/Next";
const LOOKUP = "/im.registry.v1.RegistryService/Lookup";

/** A normal call of each service, from a fresh connection, each given up after `limitMs`. */
async function bothResponsive(limitMs: number) {
  const { registry, sequence } = stack.clients();
  const registryFigures = await responsiveness(
    stack.servers.registry,
    (signal) => registry.lookup({ userId: "alice" }, { signal }),
    limitMs,
  );
  const sequenceFigures = await responsiveness(
    stack.servers.sequence,
    (signal) => sequence.next({ conversation: { kind: { case: "groupId", value: "abuse" } } }, { signal }),
    limitMs,
  );
  return { registry: registryFigures, sequence: sequenceFigures };
}

function expectResponsive(figures: Awaited<ReturnType<typeof bothResponsive>>, limitMs: number) {
  // Each figure is Infinity when its call failed or was given up at `limitMs`.
  for (const service of [figures.registry, figures.sequence]) {
    expect(service.healthzMs).toBeLessThan(limitMs);
    expect(service.callMs).toBeLessThan(limitMs);
  }
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.slice(line.lastIndexOf(" ") + 1));
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", () => {});
    opened.push(socket);
  });
}

describe("hostile connections (both services, auth on)", () => {
  it("HTTP/2 streams whose bodies never finish, with and without a token, leave both services responsive", async () => {
    const started = performance.now();
    let streams = 0;
    for (const { url, path } of [
      { url: stack.servers.sequence.url, path: NEXT },
      { url: stack.servers.registry.url, path: LOOKUP },
    ]) {
      for (const token of [undefined, tokens.gateway]) {
        for (let c = 0; c < 2; c++) {
          const session = http2.connect(url);
          session.on("error", () => {});
          opened.push(session);
          // Up to the connection's SETTINGS limit (256): more would only queue in this client.
          for (let s = 0; s < 250; s++) {
            const stream = session.request({
              ":method": "POST",
              ":path": path,
              "content-type": "application/grpc",
              te: "trailers",
              ...(token ? bearer(token) : {}),
            });
            stream.on("error", () => {});
            stream.resume();
            stream.write(Buffer.from([0, 0, 0]));
            streams++;
          }
        }
      }
    }
    const during = await bothResponsive(5_000);
    console.log(`${streams} unfinished streams on 8 connections; during the flood:`, JSON.stringify(during));
    // Seconds at worst on a loaded 2-core machine, where the same attack once froze a service for 45 s.
    expectResponsive(during, 5_000);
    // Past REQUEST_BODY_TIMEOUT_MS every unfinished stream is reset; nothing piles up.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const after = await bothResponsive(1_000);
    console.log("after:", JSON.stringify(after), `(${Math.round(performance.now() - started)} ms in all)`);
    expectResponsive(after, 1_000);
    expect(await metric(stack.servers.registry.url, "requests_body_timeouts_total")).toBeGreaterThan(0);
  });

  it("slow headers and slow bodies over HTTP/1.1 are cut within the timeouts", async () => {
    const { sequence } = stack.servers;
    const sockets = await Promise.all(Array.from({ length: 100 }, () => connect(sequence.port)));
    sockets.forEach((socket, i) => {
      socket.write(
        i % 2 === 0
          ? "POST /im.sequence.v1.SequenceService/Next HTTP/1.1\r\nHost: a\r\n"
          : `POST ${NEXT} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
      );
    });
    const trickle = setInterval(() => {
      for (const [i, socket] of sockets.entries()) socket.write(i % 2 === 0 ? "X-Slow: 1\r\n" : " ");
    }, 100);
    try {
      const during = await bothResponsive(5_000);
      console.log("100 slowloris sockets; during:", JSON.stringify(during));
      expectResponsive(during, 2_000);
      const closed = await Promise.all(
        sockets.map(
          (socket) =>
            new Promise<boolean>((resolve) => {
              if (socket.destroyed) resolve(true);
              socket.once("close", () => resolve(true));
              setTimeout(() => resolve(false), 4_000);
            }),
        ),
      );
      expect(closed.filter((c) => !c)).toHaveLength(0);
    } finally {
      clearInterval(trickle);
    }
  });

  it("a flood of idle connections stays within the per-peer limit and never locks a caller out", async () => {
    const { registry } = stack.servers;
    await Promise.all(Array.from({ length: 400 }, () => connect(registry.port)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const open = await metric(registry.url, "connections_open");
    const during = await bothResponsive(5_000);
    console.log(`400 idle connections from one peer: ${open} open at the service;`, JSON.stringify(during));
    expect(open).toBeLessThanOrEqual(200);
    expectResponsive(during, 2_000);
    expect(await metric(registry.url, "connections_shed_total")).toBeGreaterThanOrEqual(200);
  });
});
