"use strict";

// Browser side of the chat demo. `io` comes from /socket.io/socket.io.js.
// Open /?nickname=alice&room=help to skip the login form.

const $ = (id) => document.getElementById(id);
const TYPING_IDLE_MS = 1500;
const ACK_TIMEOUT_MS = 5000;

// Connect only once a nickname is chosen: the server checks it during the handshake.
const socket = io({ autoConnect: false });

let predefinedRooms = [];
const visitedRooms = new Set();
let currentRoom = null;
let wantedRoom = "general";
let typingTimer = null;
const typingUsers = new Set();

function addLine(className, parts) {
  const li = document.createElement("li");
  li.className = className;
  for (const [partClass, text] of parts) {
    const span = document.createElement("span");
    span.className = partClass;
    span.textContent = text; // textContent, never innerHTML: messages are untrusted
    li.appendChild(span);
  }
  $("messages").appendChild(li);
  li.scrollIntoView({ block: "end" });
  return li;
}

const addNotice = (text) => addLine("notice", [["text", text]]);

function renderRooms() {
  const list = $("rooms");
  list.textContent = "";
  for (const room of new Set([...predefinedRooms, ...visitedRooms])) {
    const li = document.createElement("li");
    li.textContent = "#" + room;
    li.className = room === currentRoom ? "current" : "";
    li.onclick = () => join(room);
    list.appendChild(li);
  }
}

function renderTyping() {
  const names = [...typingUsers];
  $("typing").textContent =
    names.length === 0 ? "" : names.join(", ") + (names.length === 1 ? " is typing…" : " are typing…");
}

function join(room) {
  wantedRoom = room;
  // timeout(): the callback gets an error if the server does not acknowledge in time.
  socket.timeout(ACK_TIMEOUT_MS).emit("join", room, (err, res) => {
    if (err) return addNotice(`Could not join #${room}: no answer from the server`);
    if (!res.ok) return addNotice(`Could not join #${room}: ${res.error}`);
    currentRoom = res.room;
    visitedRooms.add(res.room);
    typingUsers.clear();
    renderTyping();
    renderRooms();
    $("messages").textContent = "";
    $("users-room").textContent = "#" + res.room;
    addNotice(`You joined #${res.room}`);
  });
}

function stopTyping() {
  if (typingTimer === null) return;
  clearTimeout(typingTimer);
  typingTimer = null;
  socket.emit("typing", false);
}

function login(nickname) {
  socket.auth = { nickname };
  socket.connect();
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  login($("nickname").value);
});

$("custom-room").addEventListener("submit", (event) => {
  event.preventDefault();
  const room = $("room-name").value.trim();
  if (room) join(room);
  $("room-name").value = "";
});

$("text").addEventListener("input", () => {
  if (typingTimer === null) socket.emit("typing", true);
  else clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
});

$("send").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  $("text").value = "";
  stopTyping();
  const line = addLine("mine", [
    ["from", socket.auth.nickname],
    ["text", text],
    ["receipt", "sending…"],
  ]);
  const receipt = line.querySelector(".receipt");
  // The acknowledgement is the delivery receipt shown next to our own message.
  socket.timeout(ACK_TIMEOUT_MS).emit("message", text, (err, res) => {
    if (err) receipt.textContent = "✗ not delivered";
    else receipt.textContent = res.ok ? "✓ delivered" : "✗ " + res.error;
  });
});

socket.on("connect", () => {
  $("status").textContent = "online as " + socket.auth.nickname;
  $("status").className = "status online";
  $("login").hidden = true;
  $("chat").hidden = false;
  // Rooms live on the server side of a connection: after a reconnection, join again.
  join(wantedRoom);
  $("text").focus();
});

socket.on("connect_error", (err) => {
  // A middleware refusal ends the attempt; anything else is retried by the client.
  if (socket.active) return;
  $("login-error").textContent = err.message;
  $("login-error").hidden = false;
});

socket.on("disconnect", () => {
  $("status").textContent = "offline";
  $("status").className = "status offline";
  currentRoom = null;
});

socket.on("rooms", (rooms) => {
  predefinedRooms = rooms;
  renderRooms();
});

socket.on("users", (room, nicknames) => {
  if (room !== currentRoom) return;
  const list = $("users");
  list.textContent = "";
  for (const nickname of nicknames) {
    const li = document.createElement("li");
    li.textContent = nickname;
    list.appendChild(li);
  }
});

socket.on("message", (message) => {
  typingUsers.delete(message.from);
  renderTyping();
  addLine("", [
    ["from", message.from],
    ["text", message.text],
  ]);
});

socket.on("notice", addNotice);

socket.on("typing", ({ nickname, typing }) => {
  if (typing) typingUsers.add(nickname);
  else typingUsers.delete(nickname);
  renderTyping();
});

const params = new URLSearchParams(location.search);
if (params.get("room")) wantedRoom = params.get("room");
if (params.get("nickname")) login(params.get("nickname"));
