// The live room's client (frontend/static/live.js) under Node's test runner: its real
// LiveClient against a fake admission endpoint, fake websockets and fake peer connections,
// with Node's mocked timers, so reconnections happen at once and in order.
import { test, mock, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { LiveClient, retryDelay, encodingActive, recordingState, PROTOCOL_VERSION } from "../../static/live.js";

// FakeWebSocket is opened by the client; the test plays the server on it.
class FakeWebSocket {
  /** @type {FakeWebSocket[]} */
  static all = [];
  /** @param {string} url */
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    /** @type {any[]} */
    this.sent = [];
    this.closed = null;
    /** @type {any} */ this.onopen = null;
    /** @type {any} */ this.onmessage = null;
    /** @type {any} */ this.onclose = null;
    /** @type {any} */ this.onerror = null;
    FakeWebSocket.all.push(this);
  }
  /** @param {string} s */
  send(s) {
    this.sent.push(JSON.parse(s));
  }
  /** @param {number} [code] @param {string} [reason] */
  close(code, reason) {
    this.readyState = 3;
    this.closed = { code, reason };
  }
  open() {
    this.readyState = 1;
    this.onopen && this.onopen();
  }
  /** @param {object} msg */
  receive(msg) {
    this.onmessage({ data: JSON.stringify(msg) });
  }
  // drop is the connection lost (or closed by the server).
  drop(reason = "") {
    this.readyState = 3;
    if (this.onclose) this.onclose({ code: 1006, reason });
  }
}

class FakePeerConnection {
  /** @param {any} config */
  constructor(config) {
    this.config = config;
    this.connectionState = "new";
    this.iceConnectionState = "new";
    this.closed = false;
  }
  close() {
    this.closed = true;
  }
}

/** @type {any[]} */
let admissions;
/** @type {any} */
let admissionAnswer;

const realFetch = globalThis.fetch;
beforeEach(() => {
  FakeWebSocket.all = [];
  admissions = [];
  admissionAnswer = null;
  const g = /** @type {any} */ (globalThis);
  g.WebSocket = FakeWebSocket;
  g.RTCPeerConnection = FakePeerConnection;
  g.fetch = async (/** @type {string} */ url, /** @type {any} */ init) => {
    admissions.push({ url, init });
    const body = admissionAnswer || { token: "join-" + admissions.length, websocket_url: "https://room.test/live/ws", role: "attendee" };
    const status = body.status || 200;
    return {
      ok: status < 300,
      status,
      headers: { get: () => "application/json" },
      json: async () => body,
    };
  };
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
});
afterEach(() => {
  mock.timers.reset();
  mock.restoreAll();
  globalThis.fetch = realFetch;
});

// settle lets the client's promises (the admission) run.
async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** @param {LiveClient} client @param {string} type */
function record(client, type) {
  /** @type {any[]} */
  const seen = [];
  client.addEventListener(type, (e) => seen.push(/** @type {CustomEvent} */ (e).detail));
  return seen;
}

/** @param {object} [extra] */
function welcome(extra) {
  return Object.assign({
    type: "welcome", v: PROTOCOL_VERSION, resume_token: "resume-1",
    you: { id: "p1", role: "attendee", name: "Ada" }, participants: [], chat: [],
  }, extra);
}

function lastSocket() {
  return FakeWebSocket.all[FakeWebSocket.all.length - 1];
}

// join connects a new client and welcomes it; it returns the client and its state events.
async function join(welcomeExtra) {
  const client = new LiveClient({ admissionURL: "/live/admission", csrfToken: "csrf" });
  const states = record(client, "state");
  const joined = client.connect();
  await settle();
  const ws = lastSocket();
  ws.open();
  ws.receive(welcome(welcomeExtra));
  assert.equal((await joined).type, "welcome");
  return { client, states, ws };
}

test("retry delays: about a second for the first minute, then about five, with jitter", () => {
  assert.equal(retryDelay(0, () => 0), 500);
  assert.equal(retryDelay(0, () => 0.5), 1000);
  assert.equal(retryDelay(59_999, () => 0.999), 1499);
  assert.equal(retryDelay(60_000, () => 0), 2500);
  assert.equal(retryDelay(60_000, () => 0.5), 5000);
  assert.equal(retryDelay(3_600_000, () => 0.999), 7495);
  for (let i = 0; i < 200; i++) {
    const quick = retryDelay(1000);
    assert.ok(quick >= 500 && quick <= 1500, String(quick));
    const slow = retryDelay(120_000);
    assert.ok(slow >= 2500 && slow <= 7500, String(slow));
  }
});

test("connect: admission, hello with the join token, welcome, connected", async () => {
  const { client, states, ws } = await join();
  assert.equal(admissions.length, 1);
  assert.equal(admissions[0].url, "/live/admission");
  assert.equal(admissions[0].init.method, "POST");
  assert.equal(admissions[0].init.headers["X-CSRF-Token"], "csrf");
  assert.equal(ws.url, "wss://room.test/live/ws");
  assert.deepEqual(ws.sent, [{ type: "hello", v: PROTOCOL_VERSION, token: "join-1" }]);
  assert.deepEqual(states.map((s) => s.state), ["connecting", "connected"]);
  assert.equal(client.state, "connected");
  assert.equal(client.you.id, "p1");
  client.leave();
});

test("a dropped connection resumes with the highest chat id seen, and its attempts start over", async () => {
  const { client, states, ws } = await join({ chat: [{ id: 2 }, { id: 7 }, { id: 5 }] });
  mock.method(Math, "random", () => 0.5);
  const chats = record(client, "chat");
  ws.receive({ type: "chat", message: { id: 9, text: "hi" } });
  ws.receive({ type: "chat", message: { id: 8, text: "late" } });
  assert.deepEqual(chats.map((c) => c.message.id), [9, 8]);

  const down = client.downPC;
  assert.ok(down instanceof FakePeerConnection);
  ws.drop();
  assert.deepEqual(states.at(-1), { state: "reconnecting", attempt: 1, delay: 1000, error: states.at(-1).error });
  assert.equal(states.at(-1).error.code, "closed");
  assert.equal(FakeWebSocket.all.length, 1, "nothing before the delay");
  mock.timers.tick(999);
  assert.equal(FakeWebSocket.all.length, 1);
  mock.timers.tick(1);
  await settle();
  assert.equal(FakeWebSocket.all.length, 2);
  assert.equal(admissions.length, 1, "a resume needs no admission");
  const ws2 = lastSocket();
  ws2.open();
  assert.deepEqual(ws2.sent, [{ type: "hello", v: PROTOCOL_VERSION, resume: "resume-1", since: 9 }]);
  ws2.receive(welcome({ resumed: true, media_kept: true, resume_token: "resume-2", chat: [{ id: 10 }] }));
  assert.deepEqual(states.at(-1), { state: "connected", resumed: true });
  assert.equal(client.downPC, down, "media kept: the same peer connection carries on");
  assert.equal(down.closed, false);

  // The next drop is a first attempt again, and resumes after chat 10 with the new token.
  ws2.drop();
  assert.equal(states.at(-1).attempt, 1);
  mock.timers.tick(1000);
  await settle();
  lastSocket().open();
  assert.deepEqual(lastSocket().sent, [{ type: "hello", v: PROTOCOL_VERSION, resume: "resume-2", since: 10 }]);
  // Resumed without the media: the old peer connection is closed and a new one made.
  lastSocket().receive(welcome({ resumed: true, media_kept: false, resume_token: "resume-3" }));
  assert.equal(down.closed, true);
  assert.notEqual(client.downPC, down);
  client.leave();
});

test("attempts count up while the server is away, and slow down after a minute", async () => {
  const { client, states, ws } = await join();
  mock.method(Math, "random", () => 0.5);
  ws.drop();
  /** @type {number[]} */
  const delays = [];
  for (let i = 0; i < 70; i++) {
    const s = states.at(-1);
    assert.equal(s.state, "reconnecting");
    assert.equal(s.attempt, i + 1);
    delays.push(s.delay);
    mock.timers.tick(s.delay);
    await settle();
    // The new websocket never opens: the server is still away.
    lastSocket().drop();
  }
  assert.deepEqual(delays.slice(0, 60), Array(60).fill(1000));
  assert.deepEqual(delays.slice(60), Array(10).fill(5000));
  // Each try announced itself, so the page can say "reconnecting (attempt n)".
  assert.ok(states.filter((s) => s.state === "reconnecting" && s.delay === undefined).length >= 70);
  client.leave();
  assert.equal(client.state, "closed");
});

test("a refused resume joins afresh at once, with a new join token", async () => {
  const { client, states, ws } = await join();
  ws.drop();
  mock.timers.tick(states.at(-1).delay);
  await settle();
  const ws2 = lastSocket();
  ws2.open();
  assert.equal(ws2.sent[0].resume, "resume-1");
  ws2.receive({ type: "error", code: "resume_refused", message: "too late" });
  ws2.drop();
  assert.equal(states.at(-1).state, "reconnecting");
  assert.equal(states.at(-1).delay, 0);
  mock.timers.tick(0);
  await settle();
  assert.equal(admissions.length, 2);
  const ws3 = lastSocket();
  ws3.open();
  assert.deepEqual(ws3.sent, [{ type: "hello", v: PROTOCOL_VERSION, token: "join-2" }]);
  client.leave();
});

test("a bye or a fatal error ends it: no more attempts", async () => {
  {
    const { client, states, ws } = await join();
    const byes = record(client, "bye");
    ws.receive({ type: "bye", reason: "removed", message: "by the host" });
    ws.drop();
    assert.deepEqual(byes, [{ reason: "removed", message: "by the host" }]);
    assert.deepEqual(states.at(-1), { state: "closed", reason: "removed", message: "by the host" });
    mock.timers.tick(600_000);
    await settle();
    assert.equal(FakeWebSocket.all.length, 1);
  }
  {
    FakeWebSocket.all = [];
    const { states, ws } = await join();
    ws.receive({ type: "error", code: "bad_version", message: "old client" });
    ws.drop();
    assert.equal(states.at(-1).state, "failed");
    assert.equal(states.at(-1).error.code, "bad_version");
    mock.timers.tick(600_000);
    await settle();
    assert.equal(FakeWebSocket.all.length, 1);
  }
  {
    // A server shutting down says bye too, but the client comes back.
    FakeWebSocket.all = [];
    const { client, states, ws } = await join();
    ws.receive({ type: "bye", reason: "shutdown" });
    ws.drop();
    assert.equal(states.at(-1).state, "reconnecting");
    client.leave();
  }
});

test("a refused admission: retried when the server is busy, given up when forbidden", async () => {
  admissionAnswer = { status: 503, error: { code: "busy" } };
  const client = new LiveClient({ admissionURL: "/a" });
  const states = record(client, "state");
  const joined = client.connect().then(() => null, (err) => err);
  await settle();
  assert.equal(states.at(-1).state, "reconnecting");
  assert.equal(states.at(-1).error.status, 503);
  admissionAnswer = { status: 403, error: { code: "forbidden", message: "not invited" } };
  mock.timers.tick(states.at(-1).delay);
  await settle();
  assert.equal(states.at(-1).state, "failed");
  const err = await joined;
  assert.equal(err.name, "AdmissionError");
  assert.equal(err.status, 403);
  assert.equal(err.code, "forbidden");
  assert.equal(FakeWebSocket.all.length, 0);
});

test("leave says so to the server and closes", async () => {
  const { client, states, ws } = await join();
  client.leave();
  assert.deepEqual(ws.sent.at(-1), { type: "leave", ref: ws.sent.at(-1).ref });
  assert.deepEqual(ws.closed, { code: 1000, reason: "left" });
  assert.deepEqual(states.at(-1), { state: "closed", reason: "left" });
});

test("video paused: one event per change, cleared by a fresh start, kept by a resume with media", async () => {
  const { client, ws } = await join();
  const paused = record(client, "videopaused");
  ws.receive({ type: "video_paused", paused: true });
  ws.receive({ type: "video_paused", paused: true });
  assert.deepEqual(paused, [{ paused: true }]);
  assert.equal(client.videoPaused, true);
  ws.receive({ type: "video_paused", paused: false });
  ws.receive({ type: "video_paused", paused: true });
  assert.deepEqual(paused, [{ paused: true }, { paused: false }, { paused: true }]);

  // A resume with the media kept: still paused (the server says when that changes).
  ws.drop();
  mock.timers.tick(2000);
  await settle();
  lastSocket().open();
  lastSocket().receive(welcome({ resumed: true, media_kept: true }));
  assert.equal(client.videoPaused, true);
  assert.equal(paused.length, 3);

  // A resume without them: new media, nothing paused until the server says so.
  lastSocket().drop();
  mock.timers.tick(2000);
  await settle();
  lastSocket().open();
  lastSocket().receive(welcome({ resumed: true, media_kept: false }));
  assert.equal(client.videoPaused, false);
  assert.deepEqual(paused.at(-1), { paused: false });

  ws.receive({ type: "video_paused", paused: true }); // an old websocket: ignored
  assert.equal(client.videoPaused, false);
  lastSocket().receive({ type: "video_paused", paused: true });
  client.leave(); // the end clears it
  assert.deepEqual(paused.slice(-2), [{ paused: true }, { paused: false }]);
});

test("layers: merged per source, announced, and applied to the sender's encodings", async () => {
  const { client, ws } = await join();
  const layers = record(client, "layers");
  /** @type {any[]} */
  const encodings = [{ rid: "l", active: true }, { rid: "m", active: true }, { rid: "h", active: true }];
  /** @type {any[]} */
  const set = [];
  client._upTransceivers.camera = {
    sender: {
      getParameters: () => ({ encodings: encodings.map((e) => ({ ...e })) }),
      setParameters: async (/** @type {any} */ p) => {
        set.push(p.encodings.map((/** @type {any} */ e) => e.active));
        for (let i = 0; i < p.encodings.length; i++) encodings[i].active = p.encodings[i].active;
      },
    },
  };
  ws.receive({ type: "layers", source: "camera", active: { l: true, m: false, h: false } });
  await client._layersQueue;
  assert.deepEqual(layers, [{ source: "camera", active: { l: true, m: false, h: false } }]);
  assert.deepEqual(set, [[true, false, false]]);

  // Only what changed is sent; the rest is kept.
  ws.receive({ type: "layers", source: "camera", active: { h: true, m: "yes" } });
  await client._layersQueue;
  assert.deepEqual(layers.at(-1), { source: "camera", active: { l: true, m: false, h: true } });
  assert.deepEqual(set.at(-1), [true, false, true]);

  // The same flags again: nothing to set.
  ws.receive({ type: "layers", source: "camera", active: { h: true } });
  await client._layersQueue;
  assert.equal(set.length, 2);

  // "" is the whole video: false pauses every layer.
  ws.receive({ type: "layers", source: "camera", active: { "": false } });
  await client._layersQueue;
  assert.deepEqual(set.at(-1), [false, false, false]);

  // Not a source, or no flags: ignored.
  ws.receive({ type: "layers", source: "speakers", active: { l: true } });
  ws.receive({ type: "layers", source: "camera" });
  assert.equal(layers.length, 4);
  client.leave();
});

test("encodingActive: a rid's own flag, the whole video's, or nothing said", () => {
  assert.equal(encodingActive({ l: true }, "l"), true);
  assert.equal(encodingActive({ l: false }, "l"), false);
  assert.equal(encodingActive({ l: true }, "h"), undefined);
  assert.equal(encodingActive({ "": false, l: true }, "l"), false);
  assert.equal(encodingActive({ "": true }, "h"), true);
  assert.equal(encodingActive({ "": true, h: false }, "h"), false);
  assert.equal(encodingActive({ "": true }, undefined), true);
  assert.equal(encodingActive({ l: true }, undefined), undefined);
});

test("recording: the state from the server, my decline, and the host's record messages", async () => {
  const { client, ws } = await join();
  const seen = record(client, "recording");
  assert.equal(client.recording.on, false);
  ws.receive({ type: "recording", state: "on", started_by: "Ada", since: "2026-01-08T15:00:00Z", declined: [] });
  assert.deepEqual(seen, [{ on: true, startedBy: "Ada", since: "2026-01-08T15:00:00Z", declined: [] }]);
  assert.equal(client.declinedRecording(), false);
  ws.receive({ type: "recording", state: "on", started_by: "Ada", since: "2026-01-08T15:00:00Z", declined: ["p1", 7] });
  assert.equal(client.declinedRecording(), true);
  assert.deepEqual(client.recording.declined, ["p1"]);
  ws.sent.length = 0;
  assert.ok(client.declineRecording(false));
  assert.ok(client.record(false));
  assert.ok(client.record(true));
  assert.deepEqual(ws.sent.map(({ ref, ...m }) => m), [
    { type: "record_consent", decline: false },
    { type: "record", action: "stop" },
    { type: "record", action: "start" },
  ]);
  ws.receive({ type: "recording", state: "off", started_by: "", declined: [] });
  assert.equal(client.recording.on, false);
  assert.equal(seen.length, 3);
  client.leave();
});

test("recordingState: defensive reading of a recording message", () => {
  assert.deepEqual(recordingState(null), { on: false, startedBy: "", since: "", declined: [] });
  assert.deepEqual(recordingState({ state: "off", started_by: "X", since: "t", declined: "p1" }), { on: false, startedBy: "", since: "", declined: [] });
  assert.deepEqual(recordingState({ state: "on", started_by: 3, declined: ["a"] }), { on: true, startedBy: "", since: "", declined: ["a"] });
});
