// The room page's state logic that needs no page: which chat messages are new, how the
// questions are ordered, and what a connection state means for the page. room.js draws
// with it; frontend/typecheck/test/ tests it under Node. No DOM here (nor in live.js).

// firstSighting tells whether a chat message is new to the page, and remembers it. A
// message is known by its id: a resume's welcome repeats the messages after the last id
// the client had, and one may also have come live meanwhile, so each id is shown once.
// A message without an id cannot be matched, so it always counts as new.
/**
 * @param {Set<number|string>} seen the ids shown so far
 * @param {{id?: number|string} | null | undefined} m
 * @returns {boolean}
 */
export function firstSighting(seen, m) {
  if (!m || (m.id != null && seen.has(m.id))) return false;
  if (m.id != null) seen.add(m.id);
  return true;
}

// timeOf is a time stamp's milliseconds, or 0 when it is missing or not a time.
/** @param {string | undefined} at */
export function timeOf(at) {
  const d = Date.parse(at);
  return isNaN(d) ? 0 : d;
}

/**
 * @typedef {{id: number|string, state?: string, votes?: number, at?: string}} Question
 */

// orderQuestions splits the questions into the open ones, most votes first (then the
// oldest, then by id), and the closed ones in the order they were asked: the answered, and
// for a host the dismissed too (everyone else no longer sees those).
/**
 * @template {Question} Q
 * @param {Q[]} all
 * @param {boolean} host
 * @returns {{open: Q[], closed: Q[]}}
 */
export function orderQuestions(all, host) {
  const open = all.filter((q) => (q.state || "open") === "open")
    .sort((a, b) => (b.votes || 0) - (a.votes || 0) || timeOf(a.at) - timeOf(b.at) || (a.id > b.id ? 1 : -1));
  const closed = all.filter((q) => q.state === "answered" || (host && q.state === "dismissed"))
    .sort((a, b) => timeOf(a.at) - timeOf(b.at));
  return { open, closed };
}

// connectionOutcome reads a LiveClient "state" event for the page. lastClose is why the
// room was last closed ("left", a bye's reason, "failed"), kept until the next "connected";
// over: the client has stopped (closed or failed); hopeless: coming back cannot help (the
// person was removed, their place revoked, the session ended for anyone but a host, or the
// admission was refused for good), so no "join again" button is offered.
/**
 * @param {{state: string, reason?: string, error?: {status?: number}}} detail
 * @param {string | null} lastClose
 * @param {boolean} isHost
 * @returns {{lastClose: string | null, over: boolean, hopeless: boolean, reconnecting: boolean}}
 */
export function connectionOutcome(detail, lastClose, isHost) {
  if (detail.state === "connected") lastClose = null;
  else if (detail.state === "closed") lastClose = detail.reason || "left";
  else if (detail.state === "failed") lastClose = "failed";
  const over = detail.state === "closed" || detail.state === "failed";
  const status = detail.error && detail.error.status;
  const hopeless = lastClose === "removed" || lastClose === "revoked" || (lastClose === "ended" && !isHost) ||
    status === 403 || status === 404 || status === 410;
  return { lastClose, over, hopeless, reconnecting: detail.state === "reconnecting" };
}
