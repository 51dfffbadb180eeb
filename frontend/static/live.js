// The live room's protocol and WebRTC, without any user interface (room.js is the UI).
// It speaks version 1 of docs/signaling.md: ask for a join token, open the websocket, say
// hello, and from then on carry the room's messages and the two peer connections:
//   "up"   (publishing; this client offers, the server answers), hosts and speakers only;
//   "down" (receiving; the server offers, this client answers), everybody.
//
// const client = new LiveClient({admissionURL, csrfToken});
// client.addEventListener("chat", (e) => show(e.detail.message));
// await client.connect();
//
// When the websocket drops (without a bye that forbids coming back) the client comes back
// by itself (docs/signaling.md §5): hello with the last welcome's resume token and the last
// chat id it has, or, if the server refuses the resume, a fresh admission. It tries about
// every second at first, less often after a minute, and never gives up while the page is
// open. When only the media path breaks, it restarts ICE on the same connections.
//
// Events (CustomEvent; the payload is in event.detail):
//   state        {state, attempt, delay, reason, message, error, resumed}  state is one of
//                "idle", "connecting", "connected", "reconnecting", "closed", "failed"
//   welcome      the welcome message                 participant  {participant, self}
//   left         {participant_id}                    chat         {message}
//   question     {question}                          muted        {kind, muted, by}
//   role         {role, previous}                    error        {code, message, ref}
//   bye          {reason, message}                   localmute    {kind, muted}
//   track        {key, participant_id, source, kind, track, mid}   (a remote track)
//   trackremoved {key, participant_id, source, kind, track, mid}
//   local        {source, track}   (a local track started, or stopped when track is null)
//   publishing   {sources}         (what the up connection sends, after each negotiation)
//   pcstate      {pc, state}       (a peer connection's connectionState)
//   icerestart   {pc}              (ICE is being restarted on "up" or "down")
//   speaker      {participant_id}  (who speaks now; "" nobody; also this.speakerId)
//   videopaused  {paused}          (my video is paused to keep the audio; also this.videoPaused)
//   layers       {source, active}  (the layers the server asks me to encode; rid "": the whole video)
//   stats        {viewers}         (the host's debug view, after stats(true))
//   recording    {on, startedBy, since, declined}  (the session is being recorded or not;
//                declined: participant ids left out of it; also this.recording)
//   message      any other server message (forward compatibility)

export const PROTOCOL_VERSION = 1;
export const SOURCES = ["microphone", "camera", "screen"];
const KIND_OF_SOURCE = { microphone: "audio", camera: "video", screen: "screen" };
const SOURCE_OF_KIND = { audio: "microphone", video: "camera", screen: "screen" };
// Errors after which the server closes the connection.
const CLOSING_ERRORS = new Set(["hello_first", "bad_version", "invalid_token", "token_used", "session_ended", "resume_refused"]);
// Closing errors where a new attempt cannot help ("forbidden" only when it answers hello:
// removed, or no longer a place in the session).
const FATAL_ERRORS = new Set(["bad_version", "session_ended", "forbidden"]);
// Retry delays: about a second (with jitter) for the first minute, so everyone is back soon
// after a restarted server is ready, then every few seconds.
const QUICK_RETRIES_MS = 60000;
// An ICE connection "disconnected" this long (or "failed") is restarted, and again every
// ICE_RETRY_MS until it is connected; a down restart with no offer for ICE_STALLED_MS means
// the websocket is stalled.
const ICE_DISCONNECTED_MS = 2000;
const ICE_RETRY_MS = 2000;
const ICE_STALLED_MS = 6000;
const MAX_CHAT = 2000;
const MAX_QUESTION = 500;
// Adaptive media (docs/signaling.md §6). The camera goes out in three simulcast layers,
// smallest first, with the rids the server knows; a screen share in one good layer.
export const CAMERA_ENCODINGS = [
  { rid: "l", scaleResolutionDownBy: 4, maxBitrate: 150000 },
  { rid: "m", scaleResolutionDownBy: 2, maxBitrate: 500000 },
  { rid: "h", maxBitrate: 1700000 },
];
export const SCREEN_ENCODINGS = [{ maxBitrate: 2500000 }];
// View sizes are sent this long after the last change, so a window being resized sends one
// message rather than dozens.
const VIEW_DEBOUNCE_MS = 300;

// encodingActive is whether an encoding (by rid; none: undefined) should be sent, from what
// the server asked for a source (want: rid -> needed); undefined if it said nothing of it.
// The rid "" is the whole video: false stops every encoding, true leaves each to its own
// rid's flag (or sends it, when it has none).
export function encodingActive(want, rid) {
  const whole = want[""];
  if (!rid) return typeof whole === "boolean" ? whole : undefined;
  if (whole === false) return false;
  const own = want[rid];
  if (typeof own === "boolean") return own;
  return typeof whole === "boolean" ? whole : undefined;
}

// preferredVideoCodecs orders a browser's video codecs (RTCRtpSender.getCapabilities) for
// setCodecPreferences: VP8 first, then H.264 (for browsers without VP8), then the rest
// (retransmission, FEC and other codecs stay available). null when there is nothing to
// prefer.
export function preferredVideoCodecs(codecs) {
  if (!Array.isArray(codecs) || !codecs.length) return null;
  const rank = (c) => {
    const m = String(c.mimeType || "").toLowerCase();
    if (m === "video/vp8") return 0;
    if (m === "video/h264") return 1;
    return 2;
  };
  if (!codecs.some((c) => rank(c) < 2)) return null;
  return codecs.map((c, i) => [c, i]).sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1]).map((x) => x[0]);
}

// AdmissionError is a refused or failed request for a join token. status 0 is a network
// failure; retryable tells whether asking again later may help.
// retryDelay is the wait before the next attempt to come back, lostFor ms after the
// connection was lost: 0.5 to 1.5 s in the first minute, then 2.5 to 7.5 s (the jitter
// spreads a room's reconnections after a server restart). random is Math.random's kind.
/**
 * @param {number} lostFor
 * @param {() => number} [random]
 * @returns {number} milliseconds
 */
export function retryDelay(lostFor, random = Math.random) {
  const base = lostFor < QUICK_RETRIES_MS ? 1000 : 5000;
  return Math.round(base * (0.5 + random()));
}

export class AdmissionError extends Error {
  constructor(status, code, message, retryable) {
    super(message || code);
    this.name = "AdmissionError";
    this.status = status;
    this.code = code;
    this.serverMessage = message || "";
    this.retryable = retryable;
  }
}

// LiveError is an action the client refuses or the server refused (code as in the protocol).
export class LiveError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = "LiveError";
    this.code = code;
  }
}

// parseSDP lists the media sections of a session description: {mid, kind, direction,
// streamId, trackId}. The track id is the msid's (a=msid:<stream> <track>, or the older
// a=ssrc:<n> msid:<stream> <track>), which is how both sides name a track: the browser's
// own MediaStreamTrack ids for remote tracks need not match it.
export function parseSDP(sdp) {
  const sections = [];
  let cur = null;
  for (const line of String(sdp || "").split(/\r?\n/)) {
    if (line.startsWith("m=")) {
      cur = { mid: null, kind: line.slice(2).split(" ")[0], direction: "sendrecv", streamId: null, trackId: null };
      sections.push(cur);
      continue;
    }
    if (!cur) continue;
    if (line.startsWith("a=mid:")) {
      cur.mid = line.slice(6).trim();
    } else if (/^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line.trim())) {
      cur.direction = line.trim().slice(2);
    } else if (line.startsWith("a=msid:")) {
      const [stream, track] = line.slice(7).trim().split(/\s+/);
      cur.streamId = stream || null;
      if (track) cur.trackId = track;
    } else if (!cur.trackId) {
      const m = /^a=ssrc:\d+ msid:(\S+)\s+(\S+)/.exec(line);
      if (m) {
        cur.streamId = m[1];
        cur.trackId = m[2];
      }
    }
  }
  return sections;
}

function textLength(s) {
  return Array.from(s).length;
}

export class LiveClient extends EventTarget {
  // options: admissionURL (required), csrfToken, welcomeTimeout (ms), videoConstraints,
  // audioConstraints, screenConstraints.
  constructor(options) {
    super();
    const o = options || {};
    if (!o.admissionURL) throw new TypeError("LiveClient needs an admissionURL");
    this.admissionURL = o.admissionURL;
    this.csrfToken = o.csrfToken || "";
    this.welcomeTimeout = o.welcomeTimeout || 15000;
    this.videoConstraints = o.videoConstraints || { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30, max: 30 } };
    this.audioConstraints = o.audioConstraints || { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    this.screenConstraints = o.screenConstraints || { video: { frameRate: { ideal: 15, max: 30 } }, audio: false };

    this.state = "idle";
    this.role = null; // "host", "speaker" or "attendee"
    this.you = null; // my participant
    this.occurrence = null;
    this.participants = new Map(); // id -> participant
    this.myVotes = new Set(); // question ids I upvoted
    this.iceServers = [];
    this.ws = null;
    this.downPC = null; // exposed for tests (getStats)
    this.upPC = null;
    this.remoteTracks = new Map(); // key (the down transceiver's mid) -> track event detail
    this.local = { microphone: null, camera: null, screen: null }; // my MediaStreamTracks
    this.localMuted = { audio: false, video: false, screen: false };
    this.handRaised = false;
    this.speakerId = ""; // who speaks now, from "speaker"
    this.videoPaused = false; // from "video_paused"
    this.statsOn = false; // the host asked for the debug view
    /** @type {{on: boolean, startedBy: string, since: string, declined: string[]}} */
    this.recording = { on: false, startedBy: "", since: "", declined: [] }; // from "recording"

    this._layers = {}; // source -> {rid: active}, from "layers" (rid "": the whole video)
    this._layersQueue = Promise.resolve();
    this._views = new Map(); // remote track key -> {width, height}, the size it is shown at
    this._viewTimer = null;
    this._viewSent = ""; // the last view message's tracks, as JSON
    this._viewRefs = new Set(); // refs of view and stats messages (an older server refuses them)
    this._upTracks = {}; // my published track ids -> source, as in the last up offer

    this._welcomed = false;
    this._resumeToken = null; // from the last welcome
    this._lastChatId = 0; // the highest chat id seen
    this._wsURL = null; // the websocket of the last admission
    this._droppedAt = 0; // when the connection was lost (0: not lost)
    this._attempt = 0;
    this._retryTimer = null;
    this._welcomeTimer = null;
    this._leaving = false;
    this._bye = null;
    this._closingError = null;
    this._waiters = [];
    this._ref = 0;
    this._generation = 0;
    this._downQueue = Promise.resolve();
    this._downCandidates = [];
    this._downOffer = null;
    this._upCandidates = [];
    this._upTransceivers = {};
    this._upBusy = null;
    this._upAgain = false;
    this._upIceRestart = false;
    this._upWaiter = null;
    this._upNeedsOffer = false; // an up offer was cut off by a dropped websocket
    this._localStream = null;
    this._trackEnded = new Map();

    if (typeof window !== "undefined" && window.addEventListener) {
      // Offline, the websocket is as good as gone, though the browser may keep it open
      // (Chromium holds its frames and does not close it): come back by resuming.
      window.addEventListener("offline", () => this._drop("offline"));
      // Back online: try now rather than at the next retry.
      window.addEventListener("online", () => {
        if (this.state === "reconnecting" && this._retryTimer) {
          clearTimeout(this._retryTimer);
          this._retryTimer = null;
          this._open();
        }
      });
    }
  }

  // ---- connection ----

  // connect asks for a join token, opens the websocket and says hello. It resolves with the
  // welcome message (after retries, if the first attempts fail) and rejects with an
  // AdmissionError or LiveError when the client gives up.
  connect() {
    const p = new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
    if (this.state === "connecting" || this.state === "reconnecting" || this.state === "connected") {
      if (this.state === "connected") this._settle(null, this._lastWelcome);
      return p;
    }
    this._leaving = false;
    this._attempt = 0;
    this._droppedAt = 0;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._open();
    return p;
  }

  get connected() {
    return this.state === "connected";
  }

  canPublish() {
    return this.role === "host" || this.role === "speaker";
  }

  isHost() {
    return this.role === "host";
  }

  // _open opens a websocket and says hello: with the resume token when there is one (no
  // admission needed), else with a new join token.
  async _open() {
    const gen = ++this._generation;
    this._bye = null;
    this._closingError = null;
    this._setState(this._droppedAt ? "reconnecting" : "connecting", { attempt: this._attempt });
    let hello = null;
    if (this._resumeToken && this._wsURL) {
      hello = { type: "hello", v: PROTOCOL_VERSION, resume: this._resumeToken, since: this._lastChatId };
    } else {
      let adm;
      try {
        adm = await this._admit();
      } catch (err) {
        if (gen !== this._generation || this._leaving) return;
        if (err.retryable) this._retry(err);
        else this._giveUp("failed", { error: err });
        return;
      }
      if (gen !== this._generation || this._leaving) return;
      if (Array.isArray(adm.ice_servers)) this.iceServers = adm.ice_servers;
      this.admittedRole = adm.role || null;
      try {
        this._wsURL = this._websocketURL(adm.websocket_url);
      } catch (err) {
        this._giveUp("failed", { error: new LiveError("websocket", err.message) });
        return;
      }
      hello = { type: "hello", v: PROTOCOL_VERSION, token: adm.token };
    }
    let ws;
    try {
      ws = new WebSocket(this._wsURL);
    } catch (err) {
      this._giveUp("failed", { error: new LiveError("websocket", err.message) });
      return;
    }
    this.ws = ws;
    this._welcomed = false;
    this._resuming = !!hello.resume;
    ws.onopen = () => {
      if (ws === this.ws) ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (ev) => this._onMessage(ws, ev);
    ws.onclose = (ev) => this._onClose(ws, ev);
    ws.onerror = () => {}; // a close event follows
    clearTimeout(this._welcomeTimer);
    this._welcomeTimer = setTimeout(() => {
      if (ws === this.ws && !this._welcomed) this._drop("no welcome");
    }, this.welcomeTimeout);
  }

  async _admit() {
    const headers = { Accept: "application/json" };
    if (this.csrfToken) headers["X-CSRF-Token"] = this.csrfToken;
    let res;
    try {
      res = await fetch(this.admissionURL, { method: "POST", headers, credentials: "same-origin", cache: "no-store" });
    } catch (err) {
      throw new AdmissionError(0, "network", err && err.message, true);
    }
    let body = null;
    if ((res.headers.get("Content-Type") || "").includes("json")) {
      body = await res.json().catch(() => null);
    }
    if (!res.ok) {
      const e = (body && (body.error || body)) || {};
      const code = (typeof e.code === "string" && e.code) || String(res.status);
      const message = typeof e.message === "string" ? e.message : "";
      throw new AdmissionError(res.status, code, message, res.status === 429 || res.status >= 500);
    }
    if (!body || typeof body.token !== "string") throw new AdmissionError(res.status, "bad_response", "", true);
    return body;
  }

  _websocketURL(u) {
    const loc = typeof location !== "undefined" ? location : null;
    if (!u) {
      if (!loc) throw new LiveError("websocket", "no websocket_url");
      return (loc.protocol === "https:" ? "wss:" : "ws:") + "//" + loc.host + "/live/ws";
    }
    const url = new URL(u, loc ? loc.href : undefined);
    if (url.protocol === "https:") url.protocol = "wss:";
    if (url.protocol === "http:") url.protocol = "ws:";
    return url.href;
  }

  // _onClose decides what a closed websocket means: the end (left, a bye other than
  // "shutdown", a fatal error) or a drop to come back from. The peer connections stay up
  // meanwhile: after a resume with media_kept they carry on.
  _onClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearTimeout(this._welcomeTimer);
    this._welcomed = false;
    this._abortUpOffer();
    if (this._leaving) {
      this._giveUp("closed", { reason: "left" });
      return;
    }
    const bye = this._bye;
    if (bye && bye.reason !== "shutdown") {
      this._giveUp("closed", { reason: bye.reason, message: bye.message || "" });
      return;
    }
    const err = this._closingError;
    if (err && FATAL_ERRORS.has(err.code)) {
      const ended = err.code === "session_ended";
      this._giveUp(ended ? "closed" : "failed", { reason: ended ? "ended" : undefined, error: new LiveError(err.code, err.message) });
      return;
    }
    if (err && this._resuming) {
      // resume_refused (or a server that does not know resume): join again with a new join
      // token, at once.
      this._resumeToken = null;
      this._retry(new LiveError(err.code, err.message), 0);
      return;
    }
    this._retry(err ? new LiveError(err.code, err.message) : new LiveError("closed", (ev && ev.reason) || ""));
  }

  _retry(error, delay) {
    if (!this._droppedAt) this._droppedAt = Date.now();
    this._attempt++;
    if (delay == null) delay = retryDelay(Date.now() - this._droppedAt);
    this._setState("reconnecting", { attempt: this._attempt, delay, error });
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._open();
    }, delay);
  }

  _giveUp(state, detail) {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._generation++;
    this._resumeToken = null;
    this._droppedAt = 0;
    this._teardownPeers();
    if (state === "failed" || state === "closed") {
      // Keep nothing on air once the room is gone.
      this._stopLocalMedia();
    }
    this._layers = {}; // a new join starts from what its server asks for
    this._setSpeaker("");
    this._setVideoPaused(false);
    this._setState(state, detail || {});
    this._settle(detail && detail.error ? detail.error : new LiveError(detail && detail.reason || state, detail && detail.message), null);
  }

  _settle(err, welcome) {
    const ws = this._waiters.splice(0);
    for (const w of ws) {
      if (err) w.reject(err);
      else w.resolve(welcome);
    }
  }

  _setState(state, detail) {
    this.state = state;
    this._emit("state", Object.assign({ state }, detail || {}));
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // _drop gives up the websocket now, without waiting for a closing handshake that a dead
  // network never completes, and starts coming back.
  _drop(reason) {
    const ws = this.ws;
    if (!ws) return;
    ws.onclose = null;
    ws.close(4001, reason);
    this._onClose(ws, { reason });
  }

  _send(msg) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1 || !this._welcomed) return null;
    const ref = "r" + ++this._ref;
    msg.ref = ref;
    ws.send(JSON.stringify(msg));
    return ref;
  }

  // ---- messages from the server ----

  _onMessage(ws, ev) {
    if (ws !== this.ws) return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (!msg || typeof msg.type !== "string") return;
    switch (msg.type) {
      case "welcome":
        this._onWelcome(msg);
        break;
      case "offer":
        if (msg.pc === "down") this._onDownOffer(msg);
        break;
      case "answer":
        if (msg.pc === "up") this._onUpAnswer(msg);
        break;
      case "candidate":
        this._onRemoteCandidate(msg);
        break;
      case "participant":
        this._onParticipant(msg.participant);
        break;
      case "left":
        this.participants.delete(msg.participant_id);
        this._emit("left", { participant_id: msg.participant_id });
        break;
      case "chat":
        this._sawChat(msg.message);
        this._emit("chat", { message: msg.message });
        break;
      case "question":
        this._emit("question", { question: msg.question });
        break;
      case "muted":
        this._onHostMuted(msg);
        break;
      case "role":
        this._applyRole(msg.role);
        break;
      case "error":
        this._onError(msg);
        break;
      case "bye":
        this._bye = { reason: msg.reason, message: msg.message || "" };
        this._emit("bye", this._bye);
        break;
      case "speaker":
        this._setSpeaker(typeof msg.participant_id === "string" ? msg.participant_id : "");
        break;
      case "video_paused":
        this._setVideoPaused(!!msg.paused);
        break;
      case "layers":
        this._onLayers(msg);
        break;
      case "stats":
        this._emit("stats", { viewers: Array.isArray(msg.viewers) ? msg.viewers : [] });
        break;
      case "recording":
        this.recording = recordingState(msg);
        this._emit("recording", this.recording);
        break;
      default:
        this._emit("message", msg);
    }
  }

  _sawChat(m) {
    if (m && typeof m.id === "number" && m.id > this._lastChatId) this._lastChatId = m.id;
  }

  // _onWelcome takes a first welcome or a resume's (resumed: the same participant; its chat
  // holds only the messages after "since", its questions replace ours).
  _onWelcome(msg) {
    if (this._welcomed) return;
    this._welcomed = true;
    clearTimeout(this._welcomeTimer);
    this._resumeToken = msg.resume_token || null;
    this._droppedAt = 0;
    this._attempt = 0;
    const kept = !!(msg.resumed && msg.media_kept);
    if (!kept) this._teardownPeers(); // the server has none of them: start afresh
    this._viewSent = ""; // a new connection: say the view sizes again
    this.you = msg.you || null;
    this.occurrence = msg.occurrence || null;
    this.participants = new Map();
    for (const p of msg.participants || []) this.participants.set(p.id, p);
    if (this.you) {
      this.participants.set(this.you.id, this.you);
      this.handRaised = !!this.you.hand;
    }
    this.myVotes = new Set(msg.my_votes || []);
    for (const m of msg.chat || []) this._sawChat(m);
    if (Array.isArray(msg.ice_servers) && msg.ice_servers.length) this.iceServers = msg.ice_servers;
    const previousRole = this.role;
    this.role = this.you ? this.you.role : this.role;
    if (!this.downPC) this._createDownPC();
    this._lastWelcome = msg;
    this._setState("connected", { resumed: !!msg.resumed });
    this._emit("welcome", msg);
    if (previousRole && previousRole !== this.role) this._emit("role", { role: this.role, previous: previousRole });
    this._settle(null, msg);
    this._restoreMedia(kept);
    if (!kept) {
      // New media on the server's side: it tells again who speaks and whether my video is
      // paused; until then nobody is highlighted and nothing is paused.
      this._setSpeaker("");
      this._setVideoPaused(false);
    }
    this._scheduleView(0);
    if (this.statsOn) {
      if (this.isHost()) this._sendView({ type: "stats", on: true });
      else this.statsOn = false;
    }
  }

  // _restoreMedia publishes again what this client sent before a reconnection (the same
  // tracks: no new device prompt). With the server's peer connections kept, the up
  // connection is offered again only if its ICE is not connected (with ICE restart) or an
  // offer was cut off; the server sends the new down offer by itself. The server keeps the
  // hand, the role and the mutes.
  _restoreMedia(kept) {
    if (!SOURCES.some((s) => this.local[s])) return;
    if (!this.canPublish()) {
      this._stopPublishing();
      return;
    }
    const report = (err) => this._emit("error", { code: err.code || "webrtc", message: err.message });
    const pc = kept ? this.upPC : null;
    const restart = !!pc && pc.iceConnectionState !== "connected" && pc.iceConnectionState !== "completed";
    if (restart) this._upIceRestart = true;
    const again = restart || this._upNeedsOffer;
    this._upNeedsOffer = false;
    this._syncSenders(again).catch(report);
  }

  _onParticipant(p) {
    if (!p || !p.id) return;
    this.participants.set(p.id, p);
    const self = !!(this.you && p.id === this.you.id);
    if (self) {
      this.you = p;
      this.handRaised = !!p.hand;
    }
    this._emit("participant", { participant: p, self });
    if (self && p.role && p.role !== this.role) this._applyRole(p.role);
  }

  _applyRole(role) {
    if (!role || role === this.role) return;
    const previous = this.role;
    this.role = role;
    if (this.you) {
      this.you = Object.assign({}, this.you, { role });
      this.participants.set(this.you.id, this.you);
    }
    if (!this.canPublish()) this._stopPublishing();
    this._emit("role", { role, previous });
  }

  _onHostMuted(msg) {
    const kind = msg.kind;
    const src = SOURCE_OF_KIND[kind];
    if (!src) return;
    if (msg.muted) {
      // Stop sending it. An unmute only allows us to resume: the person decides when.
      this.localMuted[kind] = true;
      if (this.local[src]) this.local[src].enabled = false;
      this._emit("localmute", { kind, muted: true });
    }
    this._emit("muted", { kind, muted: !!msg.muted, by: msg.by });
  }

  _onError(msg) {
    const e = { code: msg.code, message: msg.message || "", ref: msg.ref || null };
    if (e.ref && this._viewRefs.has(e.ref)) {
      // A view or stats message refused (a server without adaptive media): nothing the
      // person did, and nothing they can do about it.
      this._viewRefs.delete(e.ref);
      return;
    }
    // Every error before the welcome answers hello, which closes the connection.
    if (CLOSING_ERRORS.has(e.code) || !this._welcomed) this._closingError = e;
    const w = this._upWaiter;
    if (w && e.ref && w.ref === e.ref) {
      this._upWaiter = null;
      w.reject(new LiveError(e.code, e.message));
    }
    this._emit("error", e);
  }

  // ---- receiving (down) ----

  _createDownPC() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
    this.downPC = pc;
    this._downQueue = Promise.resolve();
    this._downOfferAt = 0;
    this._downCandidates = [];
    this._downOffer = null;
    pc.onicecandidate = (e) => {
      if (pc !== this.downPC || !e.candidate || !e.candidate.candidate) return;
      this._send({ type: "candidate", pc: "down", candidate: e.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (pc === this.downPC) this._emit("pcstate", { pc: "down", state: pc.connectionState });
    };
    this._watchICE(pc, "down");
    // Tracks are matched after each answer (see _reconcileDown); ontrack alone would not
    // tell when a transceiver stops carrying a track.
    pc.ontrack = () => {};
    return pc;
  }

  // _watchICE restarts ICE on a connection whose media path broke while the websocket is
  // fine ("disconnected" for a while, or "failed"), and again every couple of seconds until
  // it is connected again: up by offering with ICE restart, down by asking the server for a
  // new offer. A down restart that gets no offer at all means the websocket is stalled:
  // it is dropped, and the resume restarts everything.
  _watchICE(pc, which) {
    let timer = null;
    let last = 0; // the last restart
    let asked = 0; // the first down restart not followed by an offer
    const current = () => pc === (which === "up" ? this.upPC : this.downPC);
    const broken = () => pc.iceConnectionState === "disconnected" || pc.iceConnectionState === "failed";
    const check = () => {
      clearTimeout(timer);
      timer = null;
      if (!current() || !broken()) return;
      const wait = last + ICE_RETRY_MS - Date.now();
      if (wait > 0) {
        timer = setTimeout(check, wait);
        return;
      }
      if (this.connected) {
        if (which === "down" && this._downOfferAt >= asked) asked = 0;
        if (asked && Date.now() - asked >= ICE_STALLED_MS) {
          asked = 0;
          this._drop("no offer after restart");
        } else {
          last = Date.now();
          this._emit("icerestart", { pc: which });
          if (which === "up") {
            this._upIceRestart = true;
            this._negotiateUp().catch(() => {});
          } else {
            if (!asked) asked = last;
            this._send({ type: "restart", pc: "down" });
          }
        }
      }
      // Not connected: the resume takes care of it; look again later either way.
      timer = setTimeout(check, ICE_RETRY_MS);
    };
    pc.oniceconnectionstatechange = () => {
      if (!current()) return;
      clearTimeout(timer);
      timer = null;
      if (pc.iceConnectionState === "failed") check();
      else if (pc.iceConnectionState === "disconnected") timer = setTimeout(check, ICE_DISCONNECTED_MS);
    };
  }

  _onDownOffer(msg) {
    const pc = this.downPC;
    if (!pc) return;
    // One exchange at a time, in the order the offers came.
    this._downQueue = this._downQueue
      .then(() => this._answerDown(pc, msg))
      .catch((err) => {
        if (pc === this.downPC) this._emit("error", { code: "webrtc", message: String(err && err.message || err), ref: null });
      });
  }

  async _answerDown(pc, msg) {
    if (pc !== this.downPC) return;
    this._downOfferAt = Date.now();
    await pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
    this._downOffer = { tracks: msg.tracks || {}, sections: parseSDP(msg.sdp) };
    for (const c of this._downCandidates.splice(0)) {
      await pc.addIceCandidate(c).catch(() => {});
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    if (pc !== this.downPC) return;
    this._send({ type: "answer", pc: "down", sdp: pc.localDescription.sdp });
    this._reconcileDown(pc);
  }

  _reconcileDown(pc) {
    const offer = this._downOffer || { tracks: {}, sections: [] };
    const byMid = new Map(offer.sections.map((s) => [s.mid, s]));
    const seen = new Set();
    for (const t of pc.getTransceivers()) {
      const dir = t.currentDirection;
      if (!t.mid || (dir !== "recvonly" && dir !== "sendrecv")) continue;
      const sec = byMid.get(t.mid);
      const track = t.receiver.track;
      const trackId = [sec && sec.trackId, track.id, t.mid].find((id) => id && offer.tracks[id]) || null;
      const info = trackId ? offer.tracks[trackId] : null;
      if (!info || !info.participant_id) continue;
      const key = t.mid;
      seen.add(key);
      const prev = this.remoteTracks.get(key);
      if (prev && prev.track === track && prev.participant_id === info.participant_id && prev.source === info.source && prev.trackId === trackId) continue;
      if (prev) {
        this.remoteTracks.delete(key);
        this._emit("trackremoved", prev);
      }
      // trackId: the track's id in the offer's tracks map (as view and stats name it).
      const entry = { key, trackId, participant_id: info.participant_id, source: info.source, kind: track.kind, track, mid: t.mid };
      this.remoteTracks.set(key, entry);
      this._emit("track", entry);
    }
    for (const [key, prev] of [...this.remoteTracks]) {
      if (!seen.has(key)) {
        this.remoteTracks.delete(key);
        this._views.delete(key);
        this._emit("trackremoved", prev);
      }
    }
    this._scheduleView(VIEW_DEBOUNCE_MS);
  }

  // ---- adaptive media (docs/signaling.md §6) ----

  // setView says at what size (CSS pixels; 0×0: not shown) the page shows the remote video
  // track with that key (the "track" event's key). The sizes go to the server in one view
  // message a moment after the last change, and again after a reconnection.
  setView(key, width, height) {
    const clamp = (n) => (Number.isFinite(n) && n > 0 ? Math.round(n) : 0);
    const w = clamp(width);
    const h = clamp(height);
    const v = w && h ? { width: w, height: h } : { width: 0, height: 0 };
    const old = this._views.get(key);
    if (old && old.width === v.width && old.height === v.height) return;
    this._views.set(key, v);
    this._scheduleView(VIEW_DEBOUNCE_MS);
  }

  _scheduleView(delay) {
    if (this._viewTimer) return;
    this._viewTimer = setTimeout(() => {
      this._viewTimer = null;
      this._flushView();
    }, delay);
  }

  // _flushView sends the sizes of every received video track the page reported (a track
  // not reported yet is left to the server's default), unless nothing changed.
  _flushView() {
    if (!this.connected) return; // sent again after the welcome
    const tracks = {};
    for (const [key, entry] of this.remoteTracks) {
      const v = this._views.get(key);
      if (!v || entry.kind !== "video" || !entry.trackId) continue;
      tracks[entry.trackId] = { width: v.width, height: v.height };
    }
    const json = JSON.stringify(tracks);
    if (json === this._viewSent || json === "{}") return;
    if (this._sendView({ type: "view", tracks })) this._viewSent = json;
  }

  // _sendView sends a view or stats message and remembers its ref.
  _sendView(msg) {
    const ref = this._send(msg);
    if (ref) {
      if (this._viewRefs.size > 100) this._viewRefs.clear();
      this._viewRefs.add(ref);
    }
    return ref;
  }

  // stats starts (true) or stops (false) the host's debug view: the server then sends a
  // "stats" event every 2 s.
  stats(on) {
    this.statsOn = !!on;
    return this._sendView({ type: "stats", on: !!on });
  }

  // trackOwner tells whose a track id (as view and stats name it) is: {participant_id,
  // source}, for the tracks this client receives and those it publishes; null if unknown.
  trackOwner(trackId) {
    for (const e of this.remoteTracks.values()) {
      if (e.trackId === trackId) return { participant_id: e.participant_id, source: e.source };
    }
    const src = this._upTracks[trackId];
    if (src && this.you) return { participant_id: this.you.id, source: src };
    // The server names a published track "<participant id>-<source>-<n>" (the ids in down
    // offers): my own tracks, which I do not receive, are known only so.
    const m = /^(.+)-(camera|screen|microphone)-\d+$/.exec(String(trackId));
    if (m && this.participants.has(m[1])) return { participant_id: m[1], source: m[2] };
    return null;
  }

  _setSpeaker(id) {
    if (id === this.speakerId) return;
    this.speakerId = id;
    this._emit("speaker", { participant_id: id });
  }

  _setVideoPaused(paused) {
    if (paused === this.videoPaused) return;
    this.videoPaused = paused;
    this._emit("videopaused", { paused });
  }

  // _onLayers keeps which layers of a source the server wants encoded, and applies it to
  // the source's sender. The rid "" names a video sent without rids (no simulcast, or a
  // screen share): false pauses the whole video, whatever its encodings.
  _onLayers(msg) {
    const source = msg.source;
    if (!SOURCES.includes(source) || !msg.active || typeof msg.active !== "object") return;
    const active = {};
    for (const [rid, on] of Object.entries(msg.active)) if (typeof on === "boolean") active[rid] = on;
    this._layers[source] = Object.assign({}, this._layers[source], active);
    this._emit("layers", { source, active: Object.assign({}, this._layers[source]) });
    this._applyLayers(source);
  }

  // _applyLayers sets the active flags of the source's sender's encodings from what the
  // server asked for; one setParameters at a time (each is a get-then-set transaction).
  _applyLayers(source) {
    this._layersQueue = this._layersQueue.then(async () => {
      const want = this._layers[source];
      const tr = this._upTransceivers[source];
      if (!want || !tr || !tr.sender || typeof tr.sender.getParameters !== "function") return;
      const params = tr.sender.getParameters();
      if (!params || !Array.isArray(params.encodings)) return;
      let changed = false;
      for (const enc of params.encodings) {
        const on = encodingActive(want, enc.rid);
        if (typeof on !== "boolean") continue;
        if (enc.active !== on) {
          enc.active = on;
          changed = true;
        }
      }
      if (changed) await tr.sender.setParameters(params);
    }).catch(() => {
      // The sender went away meanwhile (unpublished, reconnected): the next sender of this
      // source starts with these flags.
    });
    return this._layersQueue;
  }

  _onRemoteCandidate(msg) {
    const c = msg.candidate;
    if (!c) return;
    if (msg.pc === "down" && this.downPC) {
      if (!this.downPC.remoteDescription) this._downCandidates.push(c);
      else this.downPC.addIceCandidate(c).catch(() => {});
    } else if (msg.pc === "up" && this.upPC) {
      if (!this.upPC.remoteDescription) this._upCandidates.push(c);
      else this.upPC.addIceCandidate(c).catch(() => {});
    }
  }

  // ---- publishing (up) ----

  // publish starts (true, or a MediaStreamTrack to send) or stops (false) sources; sources
  // left out stay as they are. It asks for the devices it needs, then offers again on the
  // up connection if what is sent changed.
  async publish(sources) {
    const want = sources || {};
    if (!this.canPublish()) throw new LiveError("forbidden", "only hosts and speakers publish");
    const acquired = {};
    try {
      const needCamera = want.camera === true && !this._live("camera");
      const needMic = want.microphone === true && !this._live("microphone");
      Object.assign(acquired, await this._userMedia(needCamera, needMic));
      if (want.screen === true && !this._live("screen")) {
        if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) throw new LiveError("unsupported", "no screen sharing");
        const s = await navigator.mediaDevices.getDisplayMedia(this.screenConstraints);
        acquired.screen = s.getVideoTracks()[0];
        for (const extra of s.getAudioTracks()) extra.stop();
        if ("contentHint" in acquired.screen) acquired.screen.contentHint = "detail";
      }
    } catch (err) {
      for (const t of Object.values(acquired)) t.stop();
      throw err;
    }
    for (const src of SOURCES) {
      if (typeof MediaStreamTrack !== "undefined" && want[src] instanceof MediaStreamTrack) acquired[src] = want[src];
    }
    if (!this.canPublish()) {
      // The role changed while the browser asked for permission.
      for (const t of Object.values(acquired)) t.stop();
      throw new LiveError("forbidden", "no longer on stage");
    }
    for (const [src, track] of Object.entries(acquired)) this._setLocal(src, track);
    for (const src of SOURCES) if (want[src] === false) this._setLocal(src, null);
    await this._syncSenders();
  }

  // unpublish stops one source ("camera", "microphone" or "screen"), or all without one.
  async unpublish(source) {
    for (const src of source ? [source] : SOURCES) this._setLocal(src, null);
    if (this.upPC) await this._syncSenders();
  }

  get publishing() {
    return SOURCES.filter((s) => this.local[s]);
  }

  _live(src) {
    const t = this.local[src];
    return !!(t && t.readyState === "live");
  }

  async _userMedia(camera, mic) {
    if (!camera && !mic) return {};
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new LiveError("unsupported", "no camera access");
    const out = {};
    const take = (stream) => {
      for (const t of stream.getTracks()) out[t.kind === "audio" ? "microphone" : "camera"] = t;
    };
    try {
      take(await navigator.mediaDevices.getUserMedia({ video: camera ? this.videoConstraints : false, audio: mic ? this.audioConstraints : false }));
      return out;
    } catch (err) {
      // With one of the two missing (no camera, say), still start the other.
      if (!(camera && mic) || (err && (err.name === "NotAllowedError" || err.name === "SecurityError"))) throw err;
      for (const opts of [{ audio: this.audioConstraints }, { video: this.videoConstraints }]) {
        try {
          take(await navigator.mediaDevices.getUserMedia(opts));
        } catch {
          /* try the other */
        }
      }
      if (!Object.keys(out).length) throw err;
      return out;
    }
  }

  _stream() {
    if (!this._localStream) this._localStream = new MediaStream();
    return this._localStream;
  }

  _setLocal(src, track) {
    const old = this.local[src];
    if (old === track) return;
    if (old) {
      const onEnded = this._trackEnded.get(old);
      if (onEnded) old.removeEventListener("ended", onEnded);
      this._trackEnded.delete(old);
      old.stop();
    }
    this.local[src] = track || null;
    if (track) {
      track.enabled = !this.localMuted[KIND_OF_SOURCE[src]];
      const onEnded = () => {
        // The person stopped sharing from the browser's own bar, or a device went away.
        if (this.local[src] === track) this.unpublish(src).catch(() => {});
      };
      this._trackEnded.set(track, onEnded);
      track.addEventListener("ended", onEnded);
    }
    this._emit("local", { source: src, track: track || null });
  }

  _stopLocalMedia() {
    for (const src of SOURCES) if (this.local[src]) this._setLocal(src, null);
  }

  _ensureUpPC() {
    if (this.upPC) return this.upPC;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
    this.upPC = pc;
    this._upCandidates = [];
    this._upTransceivers = {};
    pc.onicecandidate = (e) => {
      if (pc !== this.upPC || !e.candidate || !e.candidate.candidate) return;
      this._send({ type: "candidate", pc: "up", candidate: e.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (pc === this.upPC) this._emit("pcstate", { pc: "up", state: pc.connectionState });
    };
    this._watchICE(pc, "up");
    return pc;
  }

  // _syncSenders (force: offer in any case) makes the up connection's transceivers match this.local: replaceTrack when
  // a live source's track changes (no new offer needed: the server keeps forwarding under
  // the same track id), a new transceiver for a started source, a stopped transceiver for
  // a stopped one, and a new offer on the same connection when transceivers changed. A
  // restarted source gets a new transceiver, so the server sees a new track (Pion stops its
  // receiver for good when an m-section goes inactive).
  async _syncSenders(force) {
    if (!this.connected) return; // resumed after the next welcome
    const pc = this._ensureUpPC();
    let changed = !!force || !pc.localDescription;
    for (const src of SOURCES) {
      const track = this.local[src];
      let tr = this._upTransceivers[src];
      if (track) {
        if (!tr) {
          this._stream().addTrack(track);
          tr = this._addSender(pc, src, track);
          this._upTransceivers[src] = tr;
          changed = true;
        } else if (tr.sender.track !== track) {
          await tr.sender.replaceTrack(track);
        }
      } else if (tr) {
        delete this._upTransceivers[src];
        if (typeof tr.stop === "function") {
          tr.stop();
        } else {
          await tr.sender.replaceTrack(null);
          tr.direction = "inactive";
        }
        changed = true;
      }
    }
    if (this._localStream) {
      for (const t of this._localStream.getTracks()) if (!SOURCES.some((s) => this.local[s] === t)) this._localStream.removeTrack(t);
    }
    if (changed) await this._negotiateUp();
  }

  // _addSender adds a send-only transceiver for a source: the camera in three simulcast
  // layers, a screen in one good layer; video prefers VP8, else H.264. A browser that
  // refuses the encodings sends one layer. Every encoding starts active: the server takes a
  // new track for a new publication that everything of is sent, and tells what is not
  // needed. (A paused encoding of the new track would never reach it, so it could never
  // ask for it back.)
  _addSender(pc, src, track) {
    const init = { direction: "sendonly", streams: [this._stream()] };
    let encodings = null;
    delete this._layers[src];
    if (src === "camera") {
      encodings = CAMERA_ENCODINGS.map((e) => Object.assign({}, e));
    } else if (src === "screen") {
      encodings = SCREEN_ENCODINGS.map((e) => Object.assign({}, e));
    }
    let tr;
    if (encodings) {
      try {
        tr = pc.addTransceiver(track, Object.assign({ sendEncodings: encodings }, init));
      } catch {
        tr = null; // without simulcast, below
      }
    }
    if (!tr) tr = pc.addTransceiver(track, init);
    if (track.kind === "video" && typeof tr.setCodecPreferences === "function" &&
        typeof RTCRtpSender !== "undefined" && RTCRtpSender.getCapabilities) {
      const codecs = preferredVideoCodecs((RTCRtpSender.getCapabilities("video") || {}).codecs);
      if (codecs) {
        try {
          tr.setCodecPreferences(codecs);
        } catch {
          /* the browser's own order then */
        }
      }
    }
    return tr;
  }

  // _negotiateUp offers on the up connection and waits for the answer; a change made while
  // an offer is out is offered again after it.
  async _negotiateUp() {
    if (this._upBusy) {
      this._upAgain = true;
      return this._upBusy;
    }
    this._upBusy = (async () => {
      try {
        do {
          this._upAgain = false;
          await this._offerUp();
        } while (this._upAgain && this.upPC);
      } finally {
        this._upBusy = null;
      }
    })();
    return this._upBusy;
  }

  async _offerUp() {
    const pc = this.upPC;
    if (!pc || !this.connected) return;
    const restart = this._upIceRestart;
    this._upIceRestart = false;
    const offer = await pc.createOffer(restart ? { iceRestart: true } : undefined);
    await pc.setLocalDescription(offer);
    if (pc !== this.upPC) return;
    const sdp = pc.localDescription.sdp;
    const tracks = this._tracksOf(sdp);
    let timer = null;
    const answered = new Promise((resolve, reject) => {
      this._upWaiter = { ref: null, resolve, reject, pc };
      timer = setTimeout(() => {
        if (this._upWaiter && this._upWaiter.resolve === resolve) this._upWaiter = null;
        reject(new LiveError("timeout", "no answer to the offer"));
      }, 20000);
    });
    const ref = this._send({ type: "offer", pc: "up", sdp, tracks });
    if (!ref) {
      this._upWaiter = null;
      this._upNeedsOffer = true;
      await pc.setLocalDescription({ type: "rollback" }).catch(() => {});
      throw new LiveError("not_connected", "not connected");
    }
    this._upWaiter.ref = ref;
    try {
      await answered;
      clearTimeout(timer);
    } catch (err) {
      clearTimeout(timer);
      if (pc === this.upPC && pc.signalingState === "have-local-offer") {
        await pc.setLocalDescription({ type: "rollback" }).catch(() => {});
      }
      throw err;
    }
    this._upTracks = tracks;
    for (const src of Object.keys(this._layers)) this._applyLayers(src);
    // Re-announce my own mutes for what was (re)started, so the room's view matches.
    for (const src of Object.values(tracks)) {
      const kind = KIND_OF_SOURCE[src];
      if (this.localMuted[kind] && this.you) this._send({ type: "mute", participant_id: this.you.id, kind, muted: true });
    }
    this._emit("publishing", { sources: this.publishing });
  }

  // _tracksOf maps the offer's track ids (the msid's, as the server sees them) to sources.
  _tracksOf(sdp) {
    const byMid = new Map(parseSDP(sdp).map((s) => [s.mid, s]));
    const tracks = {};
    for (const [src, tr] of Object.entries(this._upTransceivers)) {
      if (!this.local[src] || tr.direction !== "sendonly") continue;
      const sec = byMid.get(tr.mid);
      const id = (sec && sec.trackId) || (tr.sender.track && tr.sender.track.id);
      if (id) tracks[id] = src;
    }
    return tracks;
  }

  async _onUpAnswer(msg) {
    const pc = this.upPC;
    const w = this._upWaiter;
    if (!pc || pc.signalingState !== "have-local-offer") return;
    this._upWaiter = null;
    try {
      await pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
      for (const c of this._upCandidates.splice(0)) await pc.addIceCandidate(c).catch(() => {});
      if (w) w.resolve();
    } catch (err) {
      if (w) w.reject(err);
      else this._emit("error", { code: "webrtc", message: String(err && err.message || err), ref: null });
    }
  }

  // _abortUpOffer gives up an up offer whose answer can no longer come (the websocket
  // closed); it is offered again after the resume.
  _abortUpOffer() {
    const w = this._upWaiter;
    if (!w) return;
    this._upWaiter = null;
    this._upNeedsOffer = true;
    w.reject(new LiveError("closed", "connection closed"));
  }

  // _stopPublishing stops every local track and closes the up connection (after a move
  // back to the audience: the server has already stopped forwarding).
  _stopPublishing() {
    this._stopLocalMedia();
    this._closeUp();
    this._emit("publishing", { sources: [] });
  }

  _closeUp() {
    if (this._upWaiter) {
      this._upWaiter.reject(new LiveError("closed", "connection closed"));
      this._upWaiter = null;
    }
    if (this.upPC) this.upPC.close();
    this.upPC = null;
    this._upTransceivers = {};
    this._upCandidates = [];
    this._upAgain = false;
    this._upNeedsOffer = false;
    this._localStream = null;
  }

  _teardownPeers() {
    for (const entry of this.remoteTracks.values()) this._emit("trackremoved", entry);
    this.remoteTracks.clear();
    this._views.clear();
    if (this.downPC) this.downPC.close();
    this.downPC = null;
    this._downCandidates = [];
    this._downOffer = null;
    this._closeUp(); // local tracks stay on; _restoreMedia offers them again
  }

  // ---- actions ----
  // Each returns the message's ref (matched by an "error" event's ref), or null when not
  // connected.

  // setMuted turns my own microphone ("audio"), camera ("video") or screen ("screen") off
  // or on, and tells the room.
  setMuted(kind, muted) {
    const src = SOURCE_OF_KIND[kind];
    if (!src) throw new LiveError("bad_message", "kind is audio, video or screen");
    this.localMuted[kind] = !!muted;
    if (this.local[src]) this.local[src].enabled = !muted;
    this._emit("localmute", { kind, muted: !!muted });
    if (!this.you) return null;
    return this._send({ type: "mute", participant_id: this.you.id, kind, muted: !!muted });
  }

  chat(text) {
    const t = String(text || "").trim();
    if (!t) return null;
    if (textLength(t) > MAX_CHAT) throw new LiveError("too_large", "at most " + MAX_CHAT + " characters");
    return this._send({ type: "chat", text: t });
  }

  ask(text) {
    const t = String(text || "").trim();
    if (!t) return null;
    if (textLength(t) > MAX_QUESTION) throw new LiveError("too_large", "at most " + MAX_QUESTION + " characters");
    return this._send({ type: "ask", text: t });
  }

  upvote(questionID, up = true) {
    const ref = this._send({ type: "upvote", question_id: questionID, up: !!up });
    if (ref) {
      if (up) this.myVotes.add(questionID);
      else this.myVotes.delete(questionID);
    }
    return ref;
  }

  hand(raised) {
    const ref = this._send({ type: "hand", raised: !!raised });
    if (ref) this.handRaised = !!raised;
    return ref;
  }

  // Host actions.
  mute(participantID, kind, muted = true) {
    return this._send({ type: "mute", participant_id: participantID, kind, muted: !!muted });
  }

  stage(participantID, on) {
    return this._send({ type: "stage", participant_id: participantID, on: !!on });
  }

  remove(participantID) {
    return this._send({ type: "remove", participant_id: participantID });
  }

  markQuestion(questionID, state) {
    return this._send({ type: "question", question_id: questionID, state });
  }

  end() {
    return this._send({ type: "end" });
  }

  // record starts (true) or stops (false) recording the session (hosts; docs/signaling.md §8).
  record(on) {
    return this._send({ type: "record", action: on ? "start" : "stop" });
  }

  // declineRecording leaves me out of the recording (true) or puts me back in (false).
  declineRecording(decline) {
    return this._send({ type: "record_consent", decline: !!decline });
  }

  // declinedRecording tells whether I asked not to be recorded.
  declinedRecording() {
    return !!(this.you && this.recording.declined.includes(this.you.id));
  }

  // leave says goodbye, stops the camera and microphone and closes everything; connect()
  // joins again.
  leave() {
    this._leaving = true;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    clearTimeout(this._welcomeTimer);
    const ws = this.ws;
    if (ws && ws.readyState === 1 && this._welcomed) this._send({ type: "leave" });
    this.ws = null; // its close event is not a drop
    this._welcomed = false;
    if (ws && ws.readyState <= 1) ws.close(1000, "left"); // sent after the leave message
    this._giveUp("closed", { reason: "left" });
  }
}

// recordingState reads a "recording" message defensively (docs/signaling.md §8).
/** @param {any} msg */
export function recordingState(msg) {
  const declined = Array.isArray(msg && msg.declined) ? msg.declined.filter((/** @type {any} */ x) => typeof x === "string") : [];
  const on = !!msg && msg.state === "on";
  return {
    on,
    startedBy: on && typeof msg.started_by === "string" ? msg.started_by : "",
    since: on && typeof msg.since === "string" ? msg.since : "",
    declined,
  };
}
