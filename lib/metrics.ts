/**
 * The metrics of a server: a snapshot read from the counters the engine and the
 * namespaces keep (plain integer fields, incremented where the event happens), and
 * their registration into an application's prom-client registry, read at scrape time.
 *
 * prom-client is the application's: it hands the module over, and this package never
 * loads it.
 */
import { errorMessages } from "./engine/handshake-errors";
import type { Namespace } from "./namespace";
import type { Server } from "./server";

/** The Engine.IO layer's metrics, in `io.metrics().engine`. */
export interface EngineMetrics {
  /** open sessions, by their current transport ("polling", "websocket") */
  sessions: Record<string, number>;
  /** sessions opened */
  handshakes: number;
  /** requests refused (the engine's "connection_error" events), by error code */
  connectionErrors: Record<number, number>;
  /** handshakes refused with 429 by the per-address caps */
  rateLimitedHandshakes: number;
  /** sessions upgraded from polling to WebSocket */
  upgrades: number;
  /** Engine.IO packets received from the clients */
  packetsReceived: number;
  /** Engine.IO packets written to the clients */
  packetsSent: number;
  /** bytes received: WebSocket messages and polling POST bodies */
  bytesReceived: number;
  /** bytes sent: WebSocket messages and polling responses, before compression */
  bytesSent: number;
  /** volatile packets dropped (transport busy, or client over `maxBufferedAmount`) */
  volatileDrops: number;
  /** clients closed with "write buffer full" (over `maxBufferedAmount`) */
  slowClientsClosed: number;
  /** sessions closed with "ping timeout" */
  heartbeatTimeouts: number;
  /** polling requests forwarded to the node owning their session (`sessionForwarding`) */
  forwardedRequests: number;
  /** WebSocket upgrades tunnelled to the node owning their session (`sessionForwarding`) */
  forwardedUpgrades: number;
  /** forwarded requests and upgrades whose owner could not be reached or did not answer in time */
  forwardingFailures: number;
  /** long polls answered again: the node relaying their answer died before it did, and a proxy retried them */
  retriedPolls: number;
}

/** The metrics of one namespace, in `io.metrics().namespaces[name]`. */
export interface NamespaceMetrics {
  /** connected sockets */
  sockets: number;
  /** events received from the clients */
  eventsReceived: number;
  /** events sent to the clients, one per socket reached */
  eventsSent: number;
  /** acknowledgements the server awaits from the clients */
  acksPending: number;
  /** sessions restored by connection state recovery */
  recoveries: number;
  /** sessions a client asked to recover that could not be restored */
  recoveryFailures: number;
  /** events dropped by the rate limit */
  rateLimitDrops: number;
  /** sockets disconnected by the rate limit */
  rateLimitDisconnects: number;
}

/** What `io.metrics()` returns: plain objects, a copy taken when it is called. */
export interface Metrics {
  engine: EngineMetrics;
  /** by namespace name */
  namespaces: Record<string, NamespaceMetrics>;
}

/**
 * The part of the prom-client module used here (metrics with a `collect` function: 13 or
 * later): the application's own,
 * so that its metrics land in its registry whichever copy of prom-client it has.
 */
export interface PromClientLike {
  Counter: new (config: any) => any;
  Gauge: new (config: any) => any;
  /** the default registry */
  register: unknown;
}

/** Options of `io.registerMetrics()`. */
export interface RegisterMetricsOptions {
  /** the registry the metrics go to; default the client's default registry (`client.register`) */
  register?: unknown;
  /** the start of every metric's name; default "socketio_" */
  prefix?: string;
}

const count = (value: unknown): number => (typeof value === "number" ? value : 0);

// the engine's handshake error codes (Server.errors), each reported even when still 0
const CONNECTION_ERROR_CODES = Object.keys(errorMessages).length;

// An engine as this module reads it: ours, or another one bound with `io.bind()` (whose
// counters may be missing: they read as 0).
interface EngineLike {
  opts?: { transports?: string[] };
  clients?: Record<string, { transport?: { name?: string } }>;
  handshakesCount?: number;
  connectionErrorCounts?: number[];
  rateLimitedHandshakesCount?: number;
  upgradesCount?: number;
  packetsReceivedCount?: number;
  packetsSentCount?: number;
  bytesReceivedCount?: number;
  bytesSentCount?: number;
  droppedPacketsCount?: number;
  slowClientsClosedCount?: number;
  heartbeatTimeoutsCount?: number;
  forwardedRequestsCount?: number;
  forwardedUpgradesCount?: number;
  forwardingFailuresCount?: number;
  retriedPollsCount?: number;
}

function engineMetrics(engine: EngineLike | undefined): EngineMetrics {
  const e: EngineLike = engine || {};
  const sessions: Record<string, number> = {};
  for (const name of (e.opts && e.opts.transports) || []) {
    sessions[name] = 0;
  }
  const clients = e.clients || {};
  for (const id in clients) {
    const transport = clients[id].transport;
    const name = (transport && transport.name) || "unknown";
    sessions[name] = (sessions[name] || 0) + 1;
  }
  const connectionErrors: Record<number, number> = {};
  const errorCounts = e.connectionErrorCounts || [];
  for (let code = 0; code < Math.max(errorCounts.length, CONNECTION_ERROR_CODES); code++) {
    connectionErrors[code] = count(errorCounts[code]);
  }
  return {
    sessions,
    handshakes: count(e.handshakesCount),
    connectionErrors,
    rateLimitedHandshakes: count(e.rateLimitedHandshakesCount),
    upgrades: count(e.upgradesCount),
    packetsReceived: count(e.packetsReceivedCount),
    packetsSent: count(e.packetsSentCount),
    bytesReceived: count(e.bytesReceivedCount),
    bytesSent: count(e.bytesSentCount),
    volatileDrops: count(e.droppedPacketsCount),
    slowClientsClosed: count(e.slowClientsClosedCount),
    heartbeatTimeouts: count(e.heartbeatTimeoutsCount),
    forwardedRequests: count(e.forwardedRequestsCount),
    forwardedUpgrades: count(e.forwardedUpgradesCount),
    forwardingFailures: count(e.forwardingFailuresCount),
    retriedPolls: count(e.retriedPollsCount),
  };
}

function namespaceMetrics(nsp: Namespace<any, any, any, any>): NamespaceMetrics {
  let acksPending = 0;
  for (const socket of nsp.sockets.values()) {
    acksPending += socket._acksPending;
  }
  return {
    sockets: nsp.sockets.size,
    eventsReceived: nsp.eventsReceivedCount,
    eventsSent: nsp.eventsSentCount,
    acksPending,
    recoveries: nsp.recoveriesCount,
    recoveryFailures: nsp.recoveryFailuresCount,
    rateLimitDrops: nsp.rateLimitDroppedCount,
    rateLimitDisconnects: nsp.rateLimitDisconnectsCount,
  };
}

/**
 * The metrics of `io` now. Counters only go up for the life of the server; gauges are
 * counted when this is called (sessions and acknowledgements by walking them).
 *
 * @internal
 */
export function metricsOf(io: Server<any, any, any, any>): Metrics {
  const namespaces: Record<string, NamespaceMetrics> = {};
  for (const [name, nsp] of io._nsps) {
    namespaces[name] = namespaceMetrics(nsp);
  }
  return { engine: engineMetrics(io.engine as EngineLike | undefined), namespaces };
}

type Reading = (metrics: Metrics) => number | [Record<string, string>, number][];

interface MetricDefinition {
  name: string;
  help: string;
  gauge?: boolean;
  labelNames?: string[];
  read: Reading;
}

function perNamespace(field: keyof NamespaceMetrics): Reading {
  return (m) => Object.keys(m.namespaces).map((namespace) => [{ namespace }, m.namespaces[namespace][field]]);
}

/** The metrics registered into prom-client, read from one snapshot per scrape. */
const DEFINITIONS: MetricDefinition[] = [
  {
    name: "engine_sessions",
    help: "Open Engine.IO sessions, by current transport",
    gauge: true,
    labelNames: ["transport"],
    read: (m) =>
      Object.keys(m.engine.sessions).map((transport) => [{ transport }, m.engine.sessions[transport]]),
  },
  { name: "engine_handshakes_total", help: "Engine.IO sessions opened", read: (m) => m.engine.handshakes },
  {
    name: "engine_connection_errors_total",
    help: "Engine.IO requests refused (connection_error), by error code",
    labelNames: ["code", "message"],
    read: (m) =>
      Object.keys(m.engine.connectionErrors).map((code) => [
        { code, message: (errorMessages as Record<number, string>)[Number(code)] || "" },
        m.engine.connectionErrors[Number(code)],
      ]),
  },
  {
    name: "engine_rate_limited_handshakes_total",
    help: "Handshakes refused with 429 by the per-address caps",
    read: (m) => m.engine.rateLimitedHandshakes,
  },
  {
    name: "engine_upgrades_total",
    help: "Sessions upgraded from polling to WebSocket",
    read: (m) => m.engine.upgrades,
  },
  {
    name: "engine_packets_received_total",
    help: "Engine.IO packets received from the clients",
    read: (m) => m.engine.packetsReceived,
  },
  {
    name: "engine_packets_sent_total",
    help: "Engine.IO packets written to the clients",
    read: (m) => m.engine.packetsSent,
  },
  {
    name: "engine_bytes_received_total",
    help: "Bytes received: WebSocket messages and polling POST bodies",
    read: (m) => m.engine.bytesReceived,
  },
  {
    name: "engine_bytes_sent_total",
    help: "Bytes sent: WebSocket messages and polling responses, before compression",
    read: (m) => m.engine.bytesSent,
  },
  {
    name: "engine_volatile_drops_total",
    help: "Volatile packets dropped (transport busy, or client over maxBufferedAmount)",
    read: (m) => m.engine.volatileDrops,
  },
  {
    name: "engine_slow_clients_closed_total",
    help: 'Clients closed with "write buffer full" (over maxBufferedAmount)',
    read: (m) => m.engine.slowClientsClosed,
  },
  {
    name: "engine_heartbeat_timeouts_total",
    help: 'Sessions closed with "ping timeout"',
    read: (m) => m.engine.heartbeatTimeouts,
  },
  {
    name: "engine_forwarded_requests_total",
    help: "Polling requests forwarded to the node owning their session",
    read: (m) => m.engine.forwardedRequests,
  },
  {
    name: "engine_forwarded_upgrades_total",
    help: "WebSocket upgrades tunnelled to the node owning their session",
    read: (m) => m.engine.forwardedUpgrades,
  },
  {
    name: "engine_forwarding_failures_total",
    help: "Forwarded requests and upgrades whose owner could not be reached or did not answer in time",
    read: (m) => m.engine.forwardingFailures,
  },
  {
    name: "engine_retried_polls_total",
    help: "Long polls answered again after the node relaying their answer died before it did",
    read: (m) => m.engine.retriedPolls,
  },
  {
    name: "sockets",
    help: "Connected sockets, by namespace",
    gauge: true,
    labelNames: ["namespace"],
    read: perNamespace("sockets"),
  },
  {
    name: "events_received_total",
    help: "Events received from the clients, by namespace",
    labelNames: ["namespace"],
    read: perNamespace("eventsReceived"),
  },
  {
    name: "events_sent_total",
    help: "Events sent to the clients (one per socket reached), by namespace",
    labelNames: ["namespace"],
    read: perNamespace("eventsSent"),
  },
  {
    name: "acks_pending",
    help: "Acknowledgements awaited from the clients, by namespace",
    gauge: true,
    labelNames: ["namespace"],
    read: perNamespace("acksPending"),
  },
  {
    name: "recoveries_total",
    help: "Sessions restored by connection state recovery, by namespace",
    labelNames: ["namespace"],
    read: perNamespace("recoveries"),
  },
  {
    name: "recovery_failures_total",
    help: "Sessions a client asked to recover that could not be restored, by namespace",
    labelNames: ["namespace"],
    read: perNamespace("recoveryFailures"),
  },
  {
    name: "rate_limit_drops_total",
    help: "Events dropped by the rate limit, by namespace",
    labelNames: ["namespace"],
    read: perNamespace("rateLimitDrops"),
  },
  {
    name: "rate_limit_disconnects_total",
    help: "Sockets disconnected by the rate limit, by namespace",
    labelNames: ["namespace"],
    read: perNamespace("rateLimitDisconnects"),
  },
];

/**
 * Registers the metrics of `io` into a prom-client registry: each metric's `collect()`
 * reads them when the registry is scraped. The metrics of one scrape come from one
 * snapshot, taken by the first metric read and kept until the next tick.
 *
 * @internal
 */
export function registerMetrics(
  io: Server<any, any, any, any>,
  client: PromClientLike,
  options: RegisterMetricsOptions = {},
): void {
  if (!client || typeof client.Counter !== "function" || typeof client.Gauge !== "function") {
    throw new TypeError(
      'registerMetrics() takes the prom-client module: io.registerMetrics(require("prom-client"))',
    );
  }
  const registers = [options.register || client.register];
  const prefix = options.prefix === undefined ? "socketio_" : options.prefix;
  let snapshot: Metrics | null = null;
  const forget = (): void => {
    snapshot = null;
  };
  const current = (): Metrics => {
    if (snapshot === null) {
      snapshot = metricsOf(io);
      process.nextTick(forget);
    }
    return snapshot;
  };
  for (const definition of DEFINITIONS) {
    const read = definition.read;
    const gauge = definition.gauge === true;
    const Metric = gauge ? client.Gauge : client.Counter;
    new Metric({
      name: prefix + definition.name,
      help: definition.help,
      labelNames: definition.labelNames || [],
      registers,
      // a counter has no set(): the value is the total since the server started, so the
      // metric starts from nothing at each scrape and is raised to it
      collect(this: any) {
        const value = read(current());
        this.reset();
        if (typeof value === "number") {
          if (gauge) this.set(value);
          else this.inc(value);
          return;
        }
        for (const [labels, n] of value) {
          if (gauge) this.set(labels, n);
          else this.inc(labels, n);
        }
      },
    });
  }
}
