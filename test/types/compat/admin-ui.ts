// @socket.io/admin-ui instruments the server (and augments its type).
import { Server } from "socket.io";
import { instrument } from "@socket.io/admin-ui";

const io = new Server({ cors: { origin: ["https://admin.socket.io"], credentials: true } });
instrument(io, { auth: false, mode: "development" });
const buffered = io._eventBuffer;
