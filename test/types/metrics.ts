// Compile-time test of io.metrics() and io.registerMetrics(): the snapshot's types, and
// the application's prom-client module and registry taken as they are.
import * as promClient from "prom-client";
import { Server } from "../../dist";
import type { Metrics, NamespaceMetrics, RegisterMetricsOptions } from "../../dist";

const io = new Server();

const metrics: Metrics = io.metrics();
const websocketSessions: number | undefined = metrics.engine.sessions.websocket;
const refusedAsUnknownSession: number | undefined = metrics.engine.connectionErrors[1];
const bytes: number = metrics.engine.bytesSent + metrics.engine.bytesReceived;
const main: NamespaceMetrics | undefined = metrics.namespaces["/"];
const pending: number = main ? main.acksPending : 0;

const register = new promClient.Registry();
const options: RegisterMetricsOptions = { register, prefix: "chat_" };
const chained: Server = io.registerMetrics(promClient, options);
io.registerMetrics(promClient);

// @ts-expect-error the prom-client module, not a registry
io.registerMetrics(register);
// @ts-expect-error a prefix is a string
io.registerMetrics(promClient, { prefix: 1 });
