// Drive real `partysocket` clients (over the `ws` package) for the Python test suite.
//
// Usage: node partysocket_client.mjs HOST:PORT
//
// Rules:
//
// 1. Commands come one JSON object per line on stdin; everything observed goes out as
//    one JSON object per line on stdout. Nothing is printed anywhere else on stdout, so
//    the test can parse every line. The first line is {"event": "ready"}.
// 2. Commands ({"op": ...}):
//      connect  {client, party, room, id, query}  new PartySocket named `client`
//      send     {client, data}                    socket.send(data)
//      fetch    {client, party, room, query}      PartySocket.fetch (plain HTTP GET)
//      close    {client}                          socket.close() (1000)
//      exit     {}                                close every socket, stop reading, exit 0
// 3. Events: {"event": "open"|"message"|"close"|"error"|"response"|"failed", client, ...}.
//    A command that throws is reported as "failed" and the script keeps going.
// 4. Sockets never reconnect (maxRetries: 0): a socket the hub drops shows up as a
//    "close" event instead of being silently replaced by a new connection.
// 5. "exit" or the end of stdin (the test went away) closes every socket and stops
//    reading; Node exits once the closing handshakes are done (nothing else is pending).

import { createInterface } from "node:readline";
import { PartySocket } from "partysocket";
import WS from "ws";

const host = process.argv[2];
if (!host) {
  process.stderr.write("usage: node partysocket_client.mjs HOST:PORT\n");
  process.exit(2);
}

/** @type {Map<string, PartySocket>} */
const sockets = new Map();

function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function socketOf(client) {
  const socket = sockets.get(client);
  if (socket === undefined) throw new Error(`no client named ${JSON.stringify(client)}`);
  return socket;
}

function connect({ client, party, room, id, query }) {
  if (sockets.has(client)) throw new Error(`client ${JSON.stringify(client)} exists already`);
  const socket = new PartySocket({
    host,
    party,
    room,
    id,
    query,
    WebSocket: WS,
    maxRetries: 0,
  });
  sockets.set(client, socket);
  socket.addEventListener("open", () => {
    emit({ event: "open", client, id: socket.id, url: socket.url, extensions: socket.extensions });
  });
  socket.addEventListener("message", (event) => {
    const data = typeof event.data === "string" ? event.data : String(event.data);
    emit({ event: "message", client, data });
  });
  socket.addEventListener("close", (event) => {
    emit({ event: "close", client, code: event.code, reason: event.reason });
  });
  socket.addEventListener("error", (event) => {
    emit({ event: "error", client, message: event.message ?? String(event.error) });
  });
}

async function fetchRoom({ client, party, room, query }) {
  const response = await PartySocket.fetch({ host, party, room, query });
  emit({ event: "response", client, status: response.status, body: await response.text() });
}

async function run(command) {
  switch (command.op) {
    case "connect":
      connect(command);
      return;
    case "send":
      socketOf(command.client).send(command.data);
      return;
    case "fetch":
      await fetchRoom(command);
      return;
    case "close":
      socketOf(command.client).close();
      return;
    case "exit":
      lines.close();
      return;
    default:
      throw new Error(`unknown op ${JSON.stringify(command.op)}`);
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    emit({ event: "failed", op: null, message: `not JSON: ${error.message}` });
    return;
  }
  run(command).catch((error) => {
    emit({ event: "failed", op: command.op, client: command.client, message: error.message });
  });
});
lines.on("close", () => {
  for (const socket of sockets.values()) socket.close();
  process.stdin.destroy();
});

emit({ event: "ready", node: process.version });
