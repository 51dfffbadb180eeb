// The room page's state logic (frontend/static/roomstate.js), under Node's test runner.
import { test } from "node:test";
import assert from "node:assert/strict";
import { firstSighting, orderQuestions, connectionOutcome, timeOf } from "../../static/roomstate.js";

test("a chat message is shown once, even when a resume's welcome repeats it", () => {
  const seen = new Set();
  const shown = [];
  const receive = (m) => {
    if (firstSighting(seen, m)) shown.push(m.id);
  };
  // The first welcome's history, then live messages.
  for (const m of [{ id: 1 }, { id: 2 }]) receive(m);
  receive({ id: 3 });
  // The connection drops after message 4 came live; the resume's welcome holds the
  // messages after the last id the client had (3, or 4 if the chat event came first).
  receive({ id: 4 });
  for (const m of [{ id: 4 }, { id: 5 }]) receive(m);
  receive({ id: 5 });
  receive({ id: 6 });
  assert.deepEqual(shown, [1, 2, 3, 4, 5, 6]);
});

test("chat ids are matched by value, and messages without an id always show", () => {
  const seen = new Set();
  assert.equal(firstSighting(seen, { id: 0 }), true); // 0 is an id like any other
  assert.equal(firstSighting(seen, { id: 0 }), false);
  assert.equal(firstSighting(seen, { text: "no id" }), true);
  assert.equal(firstSighting(seen, { text: "no id" }), true);
  assert.equal(firstSighting(seen, null), false);
  assert.equal(firstSighting(seen, undefined), false);
  assert.deepEqual([...seen], [0]);
});

test("timeOf reads time stamps and gives 0 for anything else", () => {
  assert.equal(timeOf("2026-12-07T18:00:00Z"), Date.UTC(2026, 11, 7, 18));
  assert.equal(timeOf(undefined), 0);
  assert.equal(timeOf("yesterday"), 0);
});

test("open questions: most votes first, then the oldest, then by id; closed ones by age", () => {
  const qs = [
    { id: 1, votes: 1, at: "2026-12-07T18:00:00Z" },
    { id: 2, votes: 3, at: "2026-12-07T18:05:00Z" },
    { id: 3, votes: 1, at: "2026-12-07T17:55:00Z" },
    { id: 5, votes: 1, at: "2026-12-07T18:00:00Z" },
    { id: 4, votes: 1, at: "2026-12-07T18:00:00Z" },
    { id: 6, state: "answered", votes: 9, at: "2026-12-07T18:10:00Z" },
    { id: 7, state: "answered", at: "2026-12-07T17:50:00Z" },
    { id: 8, state: "dismissed", at: "2026-12-07T17:40:00Z" },
    { id: 9, state: "open" }, // no votes, no time: last
  ];
  const ids = (list) => list.map((q) => q.id);
  const attendee = orderQuestions(qs, false);
  assert.deepEqual(ids(attendee.open), [2, 3, 1, 4, 5, 9]);
  assert.deepEqual(ids(attendee.closed), [7, 6]); // an attendee no longer sees dismissed ones
  const host = orderQuestions(qs, true);
  assert.deepEqual(ids(host.open), [2, 3, 1, 4, 5, 9]);
  assert.deepEqual(ids(host.closed), [8, 7, 6]);
  assert.equal(qs[0].id, 1, "the questions given are not reordered");
});

test("connection states: what is over, what is hopeless, and the last close", () => {
  let last = null;
  const step = (detail, host = false) => {
    const o = connectionOutcome(detail, last, host);
    last = o.lastClose;
    return o;
  };
  assert.deepEqual(step({ state: "connecting" }), { lastClose: null, over: false, hopeless: false, reconnecting: false });
  assert.deepEqual(step({ state: "connected" }), { lastClose: null, over: false, hopeless: false, reconnecting: false });
  assert.deepEqual(step({ state: "reconnecting", attempt: 1, delay: 900 }), { lastClose: null, over: false, hopeless: false, reconnecting: true });
  // Left by hand: over, and joining again is offered.
  assert.deepEqual(step({ state: "closed", reason: "left" }), { lastClose: "left", over: true, hopeless: false, reconnecting: false });
  assert.equal(step({ state: "closed" }).lastClose, "left");
  // Removed: over for good, and it stays so while the client is not connected.
  assert.deepEqual(step({ state: "closed", reason: "removed" }), { lastClose: "removed", over: true, hopeless: true, reconnecting: false });
  assert.equal(step({ state: "connecting" }).hopeless, true);
  assert.equal(step({ state: "connected" }).hopeless, false);
  // The end: hopeless for everyone but a host, who may open the room again.
  assert.equal(step({ state: "closed", reason: "ended" }).hopeless, true);
  last = null;
  assert.equal(step({ state: "closed", reason: "ended" }, true).hopeless, false);
  // Failed: hopeless only when the admission was refused for good.
  last = null;
  assert.deepEqual(step({ state: "failed", error: { status: 500 } }), { lastClose: "failed", over: true, hopeless: false, reconnecting: false });
  for (const status of [403, 404, 410]) assert.equal(step({ state: "failed", error: { status } }).hopeless, true, String(status));
});
