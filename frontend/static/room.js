// The live room's page: the stage (speakers' cameras and shared screens), my controls, the
// chat, questions and the people in the room. The protocol and WebRTC are in live.js; this
// file only shows what the client reports and turns clicks into client calls.
// Text from people (names, chat, questions) is always inserted as text, never as HTML.
import { LiveClient, LiveError, AdmissionError } from "./live.js";
import { setupPrejoin } from "./prejoin.js";
import { firstSighting, orderQuestions, connectionOutcome } from "./roomstate.js";

const root = document.getElementById("live-room");
if (root) start(root);

function start(root) {
  const $ = (id) => document.getElementById(id);
  let S = {};
  try {
    S = JSON.parse(($("live-strings") || {}).textContent || "{}");
  } catch {
    S = {};
  }
  // t("key", {name: "Ana"}) fills {name} in the page's translation of key.
  const t = (key, vars) =>
    String(S[key] != null ? S[key] : key).replace(/\{(\w+)\}/g, (m, k) => (vars && vars[k] != null ? String(vars[k]) : m));

  const el = {
    status: $("live-status"),
    message: $("live-message"),
    sound: $("sound-button"),
    rejoin: $("rejoin-button"),
    stage: $("stage"),
    screens: $("stage-screens"),
    cameras: $("stage-cameras"),
    stageEmpty: $("stage-empty"),
    sharing: $("sharing-notice"),
    controls: $("live-controls"),
    hand: $("hand-button"),
    publish: $("publish-button"),
    mic: $("mic-button"),
    camera: $("camera-button"),
    screen: $("screen-button"),
    leave: $("leave-button"),
    end: $("end-button"),
    audio: $("live-audio"),
    chatLog: $("chat-log"),
    chatEmpty: $("chat-empty"),
    chatForm: $("chat-form"),
    questionForm: $("question-form"),
    questions: $("questions"),
    qOpen: $("questions-open"),
    qClosed: $("questions-closed"),
    qEmpty: $("questions-empty"),
    answeredHeading: $("answered-heading"),
    participants: $("participants"),
    audienceCount: $("audience-count"),
    videoPaused: $("video-paused"),
    statsButton: $("stats-button"),
    statsPanel: $("stats-panel"),
    statsEmpty: $("stats-empty"),
    statsTable: $("stats-table"),
    statsRows: $("stats-rows"),
    prejoin: $("prejoin"),
    roomView: $("room-view"),
    announce: $("room-announce"),
    quality: $("conn-quality"),
    qualityText: $("conn-quality-text"),
    qualityDetails: $("conn-quality-details"),
    reconnecting: $("reconnecting-notice"),
    tabs: [...root.querySelectorAll('[role="tab"]')],
    chatUnread: $("chat-unread"),
    questionsCount: $("questions-count"),
    handsCount: $("hands-count"),
    recordButton: /** @type {HTMLButtonElement} */ ($("record-button")),
    declineButton: /** @type {HTMLButtonElement} */ ($("decline-button")),
    recordingIndicator: $("recording-indicator"),
    recordingText: $("recording-indicator-text"),
    declinedNotice: $("declined-notice"),
    recordingNotice: $("recording-notice"),
  };

  /** refs of record messages sent, to name a refusal in the page's words */
  const recordRefs = new Set();

  function setStatus(state, text) {
    root.dataset.state = state;
    el.status.dataset.state = state;
    el.status.textContent = text;
  }

  if (!("RTCPeerConnection" in window) || !("WebSocket" in window) || !("fetch" in window)) {
    setStatus("failed", t("no_webrtc"));
    return;
  }

  const client = new LiveClient({ admissionURL: root.dataset.admissionUrl, csrfToken: root.dataset.csrf || "" });
  // For tests and debugging: window.puenteLive.downPC.getStats().
  /** @type {any} */ (window).puenteLive = client;

  const lang = document.documentElement.lang || undefined;
  const collator = new Intl.Collator(lang, { sensitivity: "base", numeric: true });
  const timeFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const canShareScreen = !!(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);

  const chatIds = new Set();
  const questions = new Map(); // id -> question
  const pendingVotes = new Map(); // ref -> {id, up}
  const remote = new Map(); // track key -> {participant_id, source, track, el}
  const tiles = new Map(); // participant id -> {fig, placeholder, name, flags, videoSlot}
  const screenTiles = new Map(); // participant id -> {fig, caption}
  const watchedTracks = new WeakSet();
  let selfTile = null;
  let invited = false;
  let busy = false;
  let lastClose = null;
  let messageTimer = null;
  let joined = false;
  let speakerSink = ""; // the speaker chosen before joining ("" for the default)
  let featuredId = null; // the last person who spoke, shown large on the stage
  const hands = new Map(); // participant id -> hand raised, to announce new hands

  // ---- helpers ----

  function node(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "class") n.className = v;
      else if (k === "text") n.textContent = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || k === "type" || k === "role") n.setAttribute(k, v === true ? "true" : String(v));
      else n[k] = v;
    }
    for (const c of children) if (c != null && c !== false) n.append(c);
    return n;
  }

  // button makes a small action button; with opts.forName, the person it acts on follows
  // the visible label for screen readers only, so the accessible name begins with the
  // words on the button (WCAG 2.5.3, label in name).
  function button(label, slot, action, opts) {
    const o = opts || {};
    const b = node("button", {
      type: "button", class: o.class || "secondary small", "data-slot": slot, "data-action": action,
      "aria-pressed": o.pressed == null ? null : String(!!o.pressed),
    });
    if (o.icon) b.append(node("span", { "aria-hidden": "true", text: o.icon + " " }));
    b.append(label);
    if (o.forName != null) b.append(node("span", { class: "visually-hidden", text: ": " + o.forName }));
    return b;
  }

  // announce says something through the page's polite live region (new chat messages,
  // raised hands and questions), whichever tab is shown.
  function announce(text) {
    if (!text || !el.announce) return;
    el.announce.append(node("p", { text }));
    while (el.announce.children.length > 5) el.announce.firstElementChild.remove();
  }

  // Someone who gave no name has an empty one (the server never sends their address):
  // they show as "Participant" in the reader's language.
  function nameOf(p) {
    return (p && p.name) || t("participant");
  }

  function initials(name) {
    return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => Array.from(w)[0].toUpperCase()).join("") || "?";
  }

  function formatTime(at) {
    const d = new Date(at);
    return isNaN(d.getTime()) ? "" : timeFormat.format(d);
  }

  // showMessage shows (or with "" clears) the alert line; kind lets a later event clear
  // only its own message.
  function showMessage(text, transient, kind) {
    clearTimeout(messageTimer);
    el.message.textContent = text;
    el.message.hidden = !text;
    el.message.dataset.kind = (text && kind) || "";
    if (text && transient) messageTimer = setTimeout(() => showMessage(""), 10000);
  }

  function clearMessage(kind) {
    if (el.message.dataset.kind === kind) showMessage("");
  }

  function notConnected() {
    showMessage(t("error_not_connected"), true);
  }

  // Batch re-rendering: many messages can arrive at once in a big room.
  const dirty = new Set();
  let renderTimer = null;
  function schedule(...parts) {
    for (const p of parts) dirty.add(p);
    if (!renderTimer) renderTimer = setTimeout(flush, 30);
  }
  function flush() {
    renderTimer = null;
    const parts = [...dirty];
    dirty.clear();
    if (parts.includes("participants")) renderParticipants();
    if (parts.includes("stage")) renderStage();
    if (parts.includes("questions")) renderQuestions();
    if (parts.includes("controls")) renderControls();
  }

  // preserveFocus keeps keyboard focus on "the same" button when a list is rebuilt: the
  // button in the same slot of the same item.
  function preserveFocus(container, rebuild) {
    const a = /** @type {HTMLElement} */ (document.activeElement);
    let key = null;
    if (a && a !== document.body && container.contains(a) && a.dataset.slot) {
      const item = /** @type {HTMLElement} */ (a.closest("[data-participant-id],[data-question-id]"));
      if (item) key = { slot: a.dataset.slot, pid: item.dataset.participantId, qid: item.dataset.questionId };
    }
    rebuild();
    if (!key || container.contains(document.activeElement)) return;
    const item = key.pid != null
      ? container.querySelector(`[data-participant-id="${CSS.escape(key.pid)}"]`)
      : container.querySelector(`[data-question-id="${CSS.escape(key.qid)}"]`);
    const b = item && item.querySelector(`[data-slot="${CSS.escape(key.slot)}"]`);
    if (b) b.focus();
    else if (item) {
      item.tabIndex = -1;
      item.focus();
    }
  }

  function errorText(err) {
    if (!err) return "";
    if (err instanceof AdmissionError) {
      const extra = err.serverMessage ? " " + err.serverMessage : "";
      switch (err.status) {
        case 0:
          return t("admission_failed");
        case 401:
          return t("admission_signin");
        case 403:
          return t("admission_forbidden") + extra;
        case 404:
          return t("admission_not_found");
        case 409:
          return t("admission_not_open") + extra;
        case 410:
          return t("admission_cancelled");
      }
      return t("admission_failed") + extra;
    }
    const code = err.code || "";
    switch (code) {
      case "bad_version":
      case "session_ended":
      case "forbidden":
      case "not_found":
      case "too_large":
      case "rate_limited":
      case "not_connected":
      case "bad_message":
      case "invalid_token":
      case "token_used":
      case "already_recording":
      case "not_recording":
      case "recording_unavailable":
        return t("error_" + code);
      case "unknown_type":
      case "hello_first":
        return t("error_bad_version");
      case "bad_sdp":
      case "internal":
      case "webrtc":
      case "timeout":
        return t("error_media");
      case "closed":
      case "left":
        return ""; // the connection dropped: the status says so
    }
    return t("error_generic", { message: err.message || code });
  }

  function byeText(reason, message) {
    if (reason === "ended") return t("ended");
    if (reason === "removed" || reason === "replaced" || reason === "shutdown" || reason === "revoked") return t("bye_" + reason);
    return message || t("status_closed");
  }

  function mediaErrorText(err, screen) {
    const name = err && err.name;
    if (err instanceof LiveError) {
      if (err.code === "unsupported") return t("media_unsupported");
      if (err.code === "closed") return ""; // reconnecting: publishing resumes by itself
      return errorText(err);
    }
    if (name === "NotAllowedError" || name === "SecurityError") return screen ? "" : t("media_denied"); // a cancelled screen picker is not an error
    if (name === "NotFoundError" || name === "OverconstrainedError") return t("media_notfound");
    if (name === "NotReadableError" || name === "AbortError") return t("media_inuse");
    return t("media_failed", { message: (err && (err.message || name)) || "?" });
  }

  // ---- connection state ----

  client.addEventListener("state", (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    const outcome = connectionOutcome(d, lastClose, client.isHost());
    lastClose = outcome.lastClose;
    switch (d.state) {
      case "connecting":
        setStatus("connecting", t("status_connecting"));
        break;
      case "connected":
        setStatus("connected", t("status_connected"));
        clearMessage("connection");
        break;
      case "reconnecting":
        setStatus("reconnecting", t("reconnecting"));
        break;
      case "closed":
        setStatus("closed", d.reason === "left" ? t("status_closed") : byeText(d.reason, d.message));
        if (d.reason === "ended") showEnded();
        break;
      case "failed": {
        const why = errorText(d.error);
        setStatus("failed", t("status_failed") + (why ? " " + why : ""));
        break;
      }
      default:
        setStatus(d.state, t("status_idle"));
    }
    el.reconnecting.hidden = !outcome.reconnecting;
    const over = outcome.over;
    // Someone removed, or everyone after the end, cannot usefully come back (a host can).
    el.rejoin.hidden = !over || outcome.hopeless;
    if (over) {
      invited = false;
      clearMessage("invite");
    }
    schedule("controls", "stage", "participants", "questions");
  });

  // showEnded leaves one clear state after a host ended the session: the status says so,
  // nothing says the room is open, and only a host may open it again.
  function showEnded() {
    root.dataset.ended = "true";
    const open = $("room-open");
    if (open) open.hidden = true;
    showMessage("");
    // The stage, chat and people of a room that is gone: only a host, who may open it
    // again, still sees them.
    const main = root.querySelector(".live-main");
    if (main) main.hidden = !client.isHost();
  }

  client.addEventListener("bye", (e) => {
    if (/** @type {CustomEvent} */ (e).detail.reason === "shutdown") {
      showMessage(t("bye_shutdown"), false, "connection");
    }
  });

  client.addEventListener("welcome", (e) => {
    const w = /** @type {CustomEvent} */ (e).detail;
    // History is not news: fill it in without announcing it.
    for (const m of w.chat || []) addChat(m, true);
    el.chatLog.scrollTop = el.chatLog.scrollHeight;
    hands.clear();
    for (const p of w.participants || []) if (p && p.id != null) hands.set(p.id, !!p.hand);
    questions.clear();
    for (const q of w.questions || []) if (q && q.id != null) questions.set(q.id, q);
    pendingVotes.clear();
    schedule("participants", "stage", "questions", "controls");
  });

  client.addEventListener("error", (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    const vote = d.ref && pendingVotes.get(d.ref);
    if (vote) {
      pendingVotes.delete(d.ref);
      if (vote.up) client.myVotes.delete(vote.id);
      else client.myVotes.add(vote.id);
      const q = questions.get(vote.id);
      if (q) q.votes = Math.max(0, (q.votes || 0) + (vote.up ? -1 : 1));
      schedule("questions");
    }
    if (d.ref && recordRefs.has(d.ref)) {
      recordRefs.delete(d.ref);
      if (d.code === "forbidden") {
        showMessage(t("error_recording_hosts_only"), true);
        return;
      }
    }
    switch (d.code) {
      case "invalid_token":
      case "token_used":
      case "hello_first":
      case "session_ended":
      case "bad_version":
        return; // the connection closes; the state event says what happens next
    }
    showMessage(errorText(d), true);
  });

  // ---- people ----

  client.addEventListener("participant", (e) => {
    const p = /** @type {CustomEvent} */ (e).detail.participant;
    if (p && p.id != null) {
      const before = hands.get(p.id);
      hands.set(p.id, !!p.hand);
      if (p.hand && !before && !/** @type {CustomEvent} */ (e).detail.self) announce(t("announce_hand", { name: nameOf(p) }));
    }
    schedule("participants", "stage", "controls");
  });
  client.addEventListener("left", () => schedule("participants", "stage"));

  client.addEventListener("role", (e) => {
    const { role, previous } = /** @type {CustomEvent} */ (e).detail;
    if (role === "speaker" && previous === "attendee") {
      invited = true;
      showMessage(t("invited"), false, "invite");
    } else if (role === "attendee" && previous && previous !== "attendee") {
      invited = false;
      showMessage(t("moved_back"), true, "role");
    }
    schedule("participants", "stage", "controls", "questions");
  });

  client.addEventListener("muted", (e) => {
    const { kind, muted } = /** @type {CustomEvent} */ (e).detail;
    if (["audio", "video", "screen"].includes(kind)) showMessage(t((muted ? "host_muted_" : "host_unmuted_") + kind), true);
    schedule("controls", "stage");
  });
  client.addEventListener("localmute", () => schedule("controls", "stage"));
  client.addEventListener("local", () => schedule("controls", "stage"));
  client.addEventListener("publishing", () => schedule("controls", "stage"));

  function participantItem(p) {
    const you = client.you && p.id === client.you.id;
    const name = nameOf(p);
    const speaking = !!client.speakerId && p.id === client.speakerId;
    const li = node("li", { "data-participant-id": p.id, "data-role": p.role, "data-hand": String(!!p.hand),
      "data-reconnecting": String(!!p.reconnecting), "data-speaking": String(speaking),
      class: [you ? "self" : "", speaking ? "speaking" : ""].join(" ").trim() || null });
    if (p.reconnecting) li.style.opacity = "0.6";
    const who = node("span", { class: "p-name", text: name });
    if (you) who.append(" ", node("span", { class: "muted", text: "(" + t("you") + ")" }));
    li.append(who);
    if (p.role === "host" || p.role === "speaker") li.append(" ", node("span", { class: "badge", text: t("role_" + p.role) }));
    const flags = [];
    if (speaking) flags.push(node("span", { class: "flag speaking", text: t("speaking") }));
    if (p.reconnecting) flags.push(node("span", { class: "flag reconnecting", text: t("reconnecting") }));
    if (p.hand) flags.push(node("span", { class: "flag hand" }, node("span", { "aria-hidden": "true", text: "✋ " }), t("hand_raised")));
    const pub = p.publishing || [];
    if (pub.includes("microphone") && p.audio_muted) flags.push(node("span", { class: "flag", text: t("audio_muted") }));
    if (pub.includes("camera") && p.video_muted) flags.push(node("span", { class: "flag", text: t("video_muted") }));
    if (pub.includes("screen") && p.screen_muted) flags.push(node("span", { class: "flag", text: t("screen_muted") }));
    if (client.recording.on && client.recording.declined.includes(p.id)) flags.push(node("span", { class: "flag", text: t("recording_declined_label") }));
    if (flags.length) li.append(node("span", { class: "p-flags" }, ...flags));
    if (client.isHost() && client.connected && !you) {
      const actions = node("span", { class: "p-actions" });
      if (p.role === "attendee") actions.append(button(t("invite"), "stage", "invite", { forName: name }));
      if (p.role === "speaker") actions.append(button(t("back"), "stage", "back", { forName: name }));
      if (pub.includes("microphone")) {
        actions.append(p.audio_muted
          ? button(t("unmute_audio"), "audio", "unmute-audio", { forName: name })
          : button(t("mute_audio"), "audio", "mute-audio", { forName: name }));
      }
      if (pub.includes("camera")) {
        actions.append(p.video_muted
          ? button(t("unmute_video"), "video", "unmute-video", { forName: name })
          : button(t("mute_video"), "video", "mute-video", { forName: name }));
      }
      if (pub.includes("screen")) {
        actions.append(p.screen_muted
          ? button(t("unmute_screen"), "screen", "unmute-screen", { forName: name })
          : button(t("mute_screen"), "screen", "mute-screen", { forName: name }));
      }
      actions.append(button(t("remove"), "remove", "remove", { class: "danger small", forName: name }));
      li.append(actions);
    }
    return li;
  }

  function renderParticipants() {
    const list = [...client.participants.values()];
    const rank = (p) => (p.role === "host" ? 0 : p.role === "speaker" ? 1 : p.hand ? 2 : 3);
    list.sort((a, b) => rank(a) - rank(b) || collator.compare(nameOf(a), nameOf(b)));
    preserveFocus(el.participants, () => el.participants.replaceChildren(...list.map(participantItem)));
    el.audienceCount.textContent = String(list.filter((p) => p.role === "attendee").length);
    renderBadges();
  }

  el.participants.addEventListener("click", (ev) => {
    const b = /** @type {HTMLButtonElement} */ (/** @type {Element} */ (ev.target).closest("button[data-action]"));
    const li = /** @type {HTMLLIElement} */ (b && b.closest("li[data-participant-id]"));
    if (!li) return;
    const p = client.participants.get(li.dataset.participantId) ||
      [...client.participants.values()].find((x) => String(x.id) === li.dataset.participantId);
    if (!p) return;
    let ref;
    switch (b.dataset.action) {
      case "invite":
        ref = client.stage(p.id, true);
        break;
      case "back":
        ref = client.stage(p.id, false);
        break;
      case "mute-audio":
      case "unmute-audio":
      case "mute-video":
      case "unmute-video":
      case "mute-screen":
      case "unmute-screen": {
        const [verb, kind] = b.dataset.action.split("-");
        ref = client.mute(p.id, kind, verb === "mute");
        break;
      }
      case "remove":
        if (!window.confirm(t("remove_confirm", { name: nameOf(p) }))) return;
        ref = client.remove(p.id);
        break;
      default:
        return;
    }
    if (!ref) notConnected();
  });

  // ---- stage ----

  function onStage(p) {
    return p.role === "speaker" || (p.publishing || []).some((s) => s === "camera" || s === "microphone");
  }

  function remoteOf(pid, source) {
    for (const r of remote.values()) if (r.participant_id === pid && r.source === source) return r;
    return null;
  }

  function play(media) {
    const p = media.play();
    if (p && p.catch) {
      p.catch((err) => {
        if (err && err.name === "NotAllowedError" && media.tagName === "AUDIO") {
          el.sound.hidden = false;
          showMessage(t("sound_blocked"));
        }
      });
    }
  }

  function videoElement(track, pid, source) {
    const v = node("video", { "data-participant": pid, "data-source": source, class: "tile-video" });
    v.autoplay = true;
    v.playsInline = true;
    v.muted = true;
    v.setAttribute("muted", "");
    v.setAttribute("playsinline", "");
    v.srcObject = new MediaStream([track]);
    return v;
  }

  function watch(track) {
    if (watchedTracks.has(track)) return;
    watchedTracks.add(track);
    track.addEventListener("mute", () => schedule("stage"));
    track.addEventListener("unmute", () => schedule("stage"));
    track.addEventListener("ended", () => schedule("stage"));
  }

  client.addEventListener("track", (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    const entry = { participant_id: d.participant_id, source: d.source, track: d.track, el: null };
    if (d.source === "microphone" || d.track.kind === "audio") {
      const a = node("audio", { "data-participant": d.participant_id, "data-source": d.source });
      a.autoplay = true;
      a.srcObject = new MediaStream([d.track]);
      if (speakerSink && a.setSinkId) a.setSinkId(speakerSink).catch(() => {});
      el.audio.append(a);
      entry.el = a;
      play(a);
    } else {
      entry.el = videoElement(d.track, d.participant_id, d.source);
      watch(d.track);
      observeView(entry.el, d.key);
    }
    remote.set(d.key, entry);
    schedule("stage");
  });

  client.addEventListener("trackremoved", (e) => {
    const entry = remote.get(/** @type {CustomEvent} */ (e).detail.key);
    if (!entry) return;
    remote.delete(/** @type {CustomEvent} */ (e).detail.key);
    if (entry.el) {
      unobserveView(entry.el);
      entry.el.srcObject = null;
      entry.el.remove();
    }
    schedule("stage");
  });

  function makeTile(pid) {
    const placeholder = node("div", { class: "tile-placeholder", "aria-hidden": "true" });
    const name = node("span", { class: "tile-name" });
    const flags = node("span", { class: "tile-flags" });
    const videoSlot = node("div", { class: "tile-media" });
    const fig = node("figure", { class: "tile", "data-tile": pid }, videoSlot, placeholder, node("figcaption", {}, name, " ", flags));
    return { fig, placeholder, name, flags, videoSlot, video: null };
  }

  function fillTile(tile, name, label, video, showVideo, audioMuted, videoMuted, speaking) {
    if (tile.video !== video) {
      tile.videoSlot.replaceChildren();
      if (video) {
        tile.videoSlot.append(video);
        play(video);
      }
      tile.video = video;
    }
    tile.videoSlot.hidden = !showVideo;
    tile.placeholder.hidden = showVideo;
    tile.placeholder.textContent = initials(name);
    tile.name.textContent = label;
    const f = [];
    if (speaking) f.push(t("speaking"));
    if (audioMuted) f.push(t("audio_muted"));
    if (!showVideo) f.push(videoMuted ? t("video_muted") : t("no_video"));
    tile.flags.textContent = f.length ? "· " + f.join(" · ") : "";
    tile.fig.dataset.video = String(showVideo);
    tile.fig.dataset.speaking = String(!!speaking);
    tile.fig.classList.toggle("speaking", !!speaking);
  }

  function renderStage() {
    const me = client.you;
    const onStageIds = new Set();
    // Others: their camera tiles and shared screens.
    for (const p of client.participants.values()) {
      if (me && p.id === me.id) continue;
      const cam = remoteOf(p.id, "camera");
      if (!onStage(p) && !cam) continue;
      onStageIds.add(p.id);
      let tile = tiles.get(p.id);
      if (!tile) {
        tile = makeTile(p.id);
        tiles.set(p.id, tile);
        el.cameras.append(tile.fig);
      }
      const show = !!(cam && !p.video_muted && !cam.track.muted && cam.track.readyState === "live");
      const label = p.reconnecting ? nameOf(p) + " · " + t("reconnecting") : nameOf(p);
      fillTile(tile, nameOf(p), label, cam ? cam.el : null, show, (p.publishing || []).includes("microphone") ? !!p.audio_muted : false, !!p.video_muted,
        !!client.speakerId && p.id === client.speakerId);
      tile.fig.dataset.reconnecting = String(!!p.reconnecting);
      tile.fig.style.opacity = p.reconnecting ? "0.6" : "";
    }
    for (const [pid, tile] of tiles) {
      if (!onStageIds.has(pid)) {
        tile.fig.remove();
        tiles.delete(pid);
      }
    }
    // Tracks of someone not (yet) in the list still show, under a placeholder name.
    const screenIds = new Set();
    for (const r of remote.values()) {
      if (r.source !== "screen") continue;
      const p = client.participants.get(r.participant_id);
      // The participant's list is the truth about what they publish (a stopped share may
      // linger on the connection until the next offer).
      if (p && Array.isArray(p.publishing) && !p.publishing.includes("screen")) continue;
      screenIds.add(r.participant_id);
      let st = screenTiles.get(r.participant_id);
      if (!st) {
        const caption = node("figcaption");
        st = { fig: node("figure", { class: "tile screen", "data-tile": r.participant_id }, caption), caption, video: null };
        screenTiles.set(r.participant_id, st);
        el.screens.append(st.fig);
      }
      if (st.video !== r.el) {
        if (st.video) st.video.remove();
        st.fig.prepend(r.el);
        st.video = r.el;
        play(r.el);
      }
      st.caption.textContent = t("screen_of", { name: nameOf(p) });
      st.fig.dataset.video = String(!r.track.muted);
    }
    for (const [pid, st] of screenTiles) {
      if (!screenIds.has(pid)) {
        st.fig.remove();
        screenTiles.delete(pid);
      }
    }
    // Me, when on stage: a mirrored preview of my camera.
    const mine = client.canPublish() && client.connected && (client.publishing.length > 0 || client.role === "speaker");
    if (mine) {
      if (!selfTile) {
        selfTile = makeTile("self");
        selfTile.fig.classList.add("self");
        el.cameras.prepend(selfTile.fig);
      }
      const cam = client.local.camera;
      let video = selfTile.video;
      if (cam && (!video || selfTile.cam !== cam)) {
        video = node("video", { class: "tile-video mirror", "data-self": "true", "data-local-source": "camera" });
        video.autoplay = true;
        video.playsInline = true;
        video.muted = true;
        video.setAttribute("muted", "");
        video.srcObject = new MediaStream([cam]);
      }
      if (!cam) video = null;
      selfTile.cam = cam;
      const myName = nameOf(me);
      fillTile(selfTile, myName, myName + " (" + t("you") + ")", video, !!(cam && !client.localMuted.video),
        !!(client.local.microphone && client.localMuted.audio), client.localMuted.video, !!(me && client.speakerId && me.id === client.speakerId));
    } else if (selfTile) {
      selfTile.fig.remove();
      selfTile = null;
    }
    el.sharing.hidden = !(client.local.screen && client.connected);
    const anything = tiles.size + screenTiles.size + (selfTile ? 1 : 0) > 0;
    el.stageEmpty.hidden = anything;
    el.stage.classList.toggle("has-screen", screenTiles.size > 0);
    const cameraCount = tiles.size + (selfTile ? 1 : 0);
    el.stage.dataset.tiles = String(cameraCount);
    // Stage first: a shared screen large with the cameras small beside it; otherwise the
    // person who spoke last large with the others beside them; a grid until anyone speaks.
    if (client.speakerId) featuredId = client.speakerId;
    const featuredTile = featuredId == null ? null : me && featuredId === me.id ? selfTile : tiles.get(featuredId);
    let layout = "empty";
    if (screenTiles.size) layout = "screen";
    else if (cameraCount === 1) layout = "single";
    else if (cameraCount > 1) layout = featuredTile ? "speaker" : "grid";
    el.stage.dataset.layout = layout;
    for (const tile of [...tiles.values(), selfTile]) {
      if (tile) tile.fig.classList.toggle("featured", layout === "speaker" && tile === featuredTile);
    }
    reportViews();
  }

  el.sound.addEventListener("click", () => {
    el.sound.hidden = true;
    showMessage("");
    for (const m of root.querySelectorAll("audio, video")) play(m);
  });

  // ---- adaptive media: view sizes, the speaker, paused video, connection details ----

  // Every received video reports the size it is shown at, in CSS pixels (the protocol's
  // unit), so the server sends a layer that fits: 0×0 when it is not shown (not on the
  // stage, scrolled out of sight, or the page is in the background). A tile waiting for its
  // first frame reports the tile's size: reporting 0×0 there would pause the very video it
  // waits for. The client sends the sizes, debounced.
  const viewed = new Map(); // video element -> remote track key
  const resizeObserver = "ResizeObserver" in window ? new ResizeObserver((entries) => {
    for (const e of entries) reportView(e.target);
  }) : null;

  function observeView(v, key) {
    viewed.set(v, key);
    v.addEventListener("resize", () => reportView(v)); // the picture's own size changed
    if (resizeObserver) resizeObserver.observe(v);
    reportView(v);
  }

  function unobserveView(v) {
    viewed.delete(v);
    if (resizeObserver) resizeObserver.unobserve(v);
  }

  function inViewport(box) {
    const r = box.getBoundingClientRect();
    const w = window.innerWidth || document.documentElement.clientWidth;
    const h = window.innerHeight || document.documentElement.clientHeight;
    return r.bottom > 0 && r.right > 0 && r.top < h && r.left < w;
  }

  // shownSize is the size the picture is drawn at: the element's box, or within it the
  // picture as object-fit scales it (cover draws it larger than the box, contain smaller).
  function shownSize(v) {
    if (document.hidden || !v.isConnected) return [0, 0];
    let box = v;
    if (!v.clientWidth || !v.clientHeight) {
      // Hidden in its tile until frames come (or while the camera is off): the tile's size.
      box = v.closest("figure.tile");
      if (!box || !box.clientWidth || !box.clientHeight) return [0, 0];
    }
    if (!inViewport(box)) return [0, 0];
    const bw = box.clientWidth;
    const bh = box.clientHeight;
    const vw = v.videoWidth;
    const vh = v.videoHeight;
    if (!vw || !vh) return [bw, bh];
    const fit = getComputedStyle(v).objectFit;
    if (fit === "fill") return [bw, bh];
    const scale = fit === "cover" ? Math.max(bw / vw, bh / vh) : Math.min(bw / vw, bh / vh);
    return [Math.round(vw * scale), Math.round(vh * scale)];
  }

  function reportView(v) {
    const key = viewed.get(v);
    if (key == null) return;
    const [w, h] = shownSize(v);
    client.setView(key, w, h);
  }

  function reportViews() {
    for (const v of viewed.keys()) reportView(v);
  }

  // Scrolling and resizing move videos in and out of sight: measure again once per frame.
  let viewFrame = 0;
  function reportViewsSoon() {
    if (viewFrame) return;
    viewFrame = requestAnimationFrame(() => {
      viewFrame = 0;
      reportViews();
    });
  }
  window.addEventListener("scroll", reportViewsSoon, { capture: true, passive: true });
  window.addEventListener("resize", reportViewsSoon);
  document.addEventListener("visibilitychange", reportViews);

  client.addEventListener("speaker", () => schedule("participants", "stage"));

  client.addEventListener("videopaused", (e) => {
    el.videoPaused.hidden = !/** @type {CustomEvent} */ (e).detail.paused;
  });

  // The host's connection details: every viewer's estimate and layers, every 2 s.
  let lastStats = null;

  function layerText(layer) {
    return ["high", "mid", "low", "paused"].includes(layer) ? t("layer_" + layer) : String(layer);
  }

  function trackText(trackId) {
    const owner = client.trackOwner(trackId);
    if (!owner) return trackId;
    const name = nameOf(client.participants.get(owner.participant_id));
    if (owner.source === "camera") return t("stats_camera_of", { name });
    if (owner.source === "screen") return t("stats_screen_of", { name });
    return trackId;
  }

  let kbpsFormat = null;
  try {
    kbpsFormat = new Intl.NumberFormat(lang, { style: "unit", unit: "kilobit-per-second" });
  } catch {
    kbpsFormat = null; // a browser without unit formatting
  }
  function kbpsText(kbps) {
    return kbpsFormat ? kbpsFormat.format(kbps) : kbps.toLocaleString(lang) + " kbps";
  }

  function renderStats() {
    const viewers = lastStats || [];
    el.statsEmpty.hidden = viewers.length > 0;
    el.statsEmpty.textContent = lastStats ? t("stats_none") : t("stats_waiting");
    el.statsTable.hidden = viewers.length === 0;
    const rows = viewers.map((v) => {
      const p = client.participants.get(v.participant_id);
      const layers = Object.entries(v.layers || {}).map(([id, layer]) => t("stats_track", { track: trackText(id), layer: layerText(layer) }));
      if (v.video_paused) layers.unshift(t("stats_video_paused"));
      const kbps = Math.round(Number(v.estimate_kbps) || 0);
      return node("tr", { "data-participant-id": v.participant_id, "data-estimate-kbps": kbps },
        node("td", { text: nameOf(p) }),
        node("td", { class: "num", text: kbpsText(kbps) }),
        node("td", { text: layers.join(" · ") }));
    });
    el.statsRows.replaceChildren(...rows);
  }

  function showStats(on) {
    el.statsButton.setAttribute("aria-pressed", String(on));
    el.statsPanel.hidden = !on;
    if (on) renderStats();
  }

  client.addEventListener("stats", (e) => {
    lastStats = /** @type {CustomEvent} */ (e).detail.viewers;
    if (client.statsOn) renderStats();
  });

  el.statsButton.addEventListener("click", () => {
    const on = !client.statsOn;
    if (!client.stats(on)) {
      notConnected();
      return;
    }
    lastStats = null;
    showStats(on);
  });

  // ---- my controls ----

  function renderControls() {
    const connected = client.connected;
    const canPub = client.canPublish();
    const pub = client.publishing;
    el.controls.hidden = !(connected || busy);
    el.hand.hidden = client.role !== "attendee";
    el.hand.setAttribute("aria-pressed", String(!!client.handRaised));
    el.hand.dataset.raised = String(!!client.handRaised);
    el.publish.hidden = !canPub;
    el.publish.textContent = pub.length ? t("leave_stage") : invited ? t("join_stage") : t("publish_start");
    el.publish.dataset.publishing = String(pub.length > 0);
    el.publish.className = pub.length ? "secondary" : "";
    el.mic.hidden = !canPub || !client.local.microphone;
    el.mic.setAttribute("aria-pressed", String(!!client.localMuted.audio));
    el.mic.dataset.muted = String(!!client.localMuted.audio);
    el.camera.hidden = !canPub || !pub.length;
    const camOn = !!(client.local.camera && !client.localMuted.video);
    el.camera.setAttribute("aria-pressed", String(!camOn));
    el.camera.dataset.on = String(camOn);
    el.screen.hidden = !canPub || !canShareScreen;
    el.screen.setAttribute("aria-pressed", String(!!client.local.screen));
    el.screen.dataset.on = String(!!client.local.screen);
    el.end.hidden = !client.isHost();
    renderRecordingControls(connected);
    el.statsButton.hidden = !client.isHost();
    if (!client.isHost() && client.statsOn) {
      client.statsOn = false; // no longer a host: the server sends no more
    }
    if (!client.statsOn && !el.statsPanel.hidden) showStats(false);
    el.leave.hidden = !connected;
    for (const b of /** @type {HTMLButtonElement[]} */ ([el.hand, el.publish, el.mic, el.camera, el.screen, el.end, el.statsButton])) b.disabled = busy || !connected;
    for (const f of [el.chatForm, el.questionForm]) {
      const b = /** @type {HTMLButtonElement} */ (f.querySelector("button[type=submit]"));
      if (b) b.disabled = !connected;
    }
  }

  async function guarded(fn, screen) {
    if (busy) return;
    busy = true;
    renderControls();
    try {
      await fn();
    } catch (err) {
      const text = mediaErrorText(err, screen);
      if (text) showMessage(text, true);
    } finally {
      busy = false;
      schedule("controls", "stage");
    }
  }

  el.hand.addEventListener("click", () => {
    if (!client.hand(!client.handRaised)) notConnected();
    schedule("controls");
  });

  el.publish.addEventListener("click", () => {
    if (client.publishing.length) {
      guarded(() => client.unpublish());
    } else {
      guarded(async () => {
        await client.publish({ camera: true, microphone: true });
        invited = false;
        clearMessage("invite");
      });
    }
  });

  el.mic.addEventListener("click", () => {
    client.setMuted("audio", !client.localMuted.audio);
  });

  el.camera.addEventListener("click", () => {
    if (client.local.camera) {
      client.setMuted("video", !client.localMuted.video);
    } else {
      guarded(async () => {
        if (client.localMuted.video) client.setMuted("video", false);
        await client.publish({ camera: true });
      });
    }
  });

  el.screen.addEventListener("click", () => {
    if (client.local.screen) guarded(() => client.unpublish("screen"));
    else guarded(() => client.publish({ screen: true }), true);
  });

  // ---- recording (docs/signaling.md §8) ----

  // The indicator everyone sees (role=status), the host's Start/Stop, the speaker's
  // "Don't record me" (and its undo).
  function renderRecordingControls(connected) {
    const rec = client.recording;
    if (el.recordingIndicator) {
      el.recordingIndicator.hidden = !rec.on;
      el.recordingIndicator.dataset.on = String(rec.on);
      if (el.recordingText) el.recordingText.textContent = rec.startedBy ? t("recording_started_by", { name: rec.startedBy }) : t("recording_notice");
    }
    if (el.recordingNotice && !rec.on && client.connected) el.recordingNotice.hidden = true;
    if (el.recordButton) {
      el.recordButton.hidden = !client.isHost();
      el.recordButton.textContent = rec.on ? t("recording_stop") : t("recording_start");
      el.recordButton.setAttribute("aria-pressed", String(rec.on));
      el.recordButton.className = rec.on ? "danger" : "secondary";
      el.recordButton.disabled = !connected;
    }
    const declined = client.declinedRecording();
    if (el.declineButton) {
      el.declineButton.hidden = !client.canPublish();
      el.declineButton.textContent = declined ? t("recording_undo_decline") : t("recording_decline");
      el.declineButton.setAttribute("aria-pressed", String(declined));
      el.declineButton.disabled = !connected;
    }
    if (el.declinedNotice) el.declinedNotice.hidden = !(rec.on && declined);
  }

  let wasRecording = false;
  client.addEventListener("recording", () => {
    const on = client.recording.on;
    if (on !== wasRecording) announce(on ? t("recording_notice") : t("recording_stopped"));
    wasRecording = on;
    schedule("controls", "participants");
  });

  if (el.recordButton) {
    el.recordButton.addEventListener("click", () => {
      const on = client.recording.on;
      if (on && !window.confirm(t("recording_stop_confirm"))) return;
      const ref = client.record(!on);
      if (!ref) notConnected();
      else recordRefs.add(ref);
    });
  }

  if (el.declineButton) {
    el.declineButton.addEventListener("click", () => {
      if (!client.declineRecording(!client.declinedRecording())) notConnected();
    });
  }

  el.end.addEventListener("click", () => {
    if (window.confirm(t("end_confirm")) && !client.end()) notConnected();
  });

  el.leave.addEventListener("click", () => client.leave());

  el.rejoin.addEventListener("click", () => {
    el.rejoin.hidden = true;
    showMessage("");
    client.connect().catch(() => {});
  });

  // ---- chat ----

  function nearBottom(list) {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }

  function addChat(m, history) {
    if (!firstSighting(chatIds, m)) return;
    const author = m.author || {};
    const mine = client.you && author.participant_id != null && author.participant_id === client.you.id;
    const meta = node("p", { class: "chat-meta" }, node("strong", { text: nameOf(author) }));
    const when = formatTime(m.at);
    if (when) meta.append(" ", node("time", { dateTime: m.at, text: when }));
    const li = node("li", { "data-chat-id": m.id, class: mine ? "mine" : null }, meta, node("p", { class: "chat-text", text: m.text || "" }));
    const stick = nearBottom(el.chatLog);
    el.chatLog.append(li);
    while (el.chatLog.children.length > 500) el.chatLog.firstElementChild.remove();
    el.chatEmpty.hidden = true;
    if (stick || mine) el.chatLog.scrollTop = el.chatLog.scrollHeight;
    if (!history && !mine) {
      announce(t("announce_chat", { name: nameOf(author), text: m.text || "" }));
      if (currentTab() !== "chat") unread++;
      renderBadges();
    }
  }

  client.addEventListener("chat", (e) => addChat(/** @type {CustomEvent} */ (e).detail.message));

  function submitOnEnter(form) {
    const area = form.querySelector("textarea");
    if (!area) return;
    area.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        if (form.requestSubmit) form.requestSubmit();
        else form.dispatchEvent(new Event("submit", { cancelable: true }));
      }
    });
  }

  function sendFrom(form, send) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const field = form.elements.text;
      const text = field.value;
      if (!text.trim()) return;
      try {
        if (!send(text)) {
          notConnected();
          return;
        }
        field.value = "";
      } catch (err) {
        showMessage(errorText(err), true);
      }
    });
    submitOnEnter(form);
  }

  sendFrom(el.chatForm, (text) => client.chat(text));
  sendFrom(el.questionForm, (text) => client.ask(text));

  // ---- questions ----

  client.addEventListener("question", (e) => {
    const q = /** @type {CustomEvent} */ (e).detail.question;
    if (!q || q.id == null) return;
    if (!questions.has(q.id)) announce(t("announce_question", { name: nameOf(q.author), text: q.text || "" }));
    questions.set(q.id, q);
    schedule("questions");
  });

  function questionItem(q) {
    const host = client.isHost() && client.connected;
    const state = q.state || "open";
    const name = nameOf(q.author);
    const li = node("li", { "data-question-id": q.id, "data-state": state, "data-votes": q.votes || 0 });
    li.append(node("p", { class: "q-text", text: q.text || "" }));
    const meta = node("p", { class: "q-meta muted" }, node("span", { text: name }), " · ", node("span", { text: t("votes", { votes: q.votes || 0 }) }));
    if (state === "dismissed") meta.append(" · ", node("span", { text: t("dismissed") }));
    li.append(meta);
    const actions = node("p", { class: "q-actions" });
    if (state === "open") {
      const voted = client.myVotes.has(q.id);
      actions.append(button(t("upvote"), "upvote", "upvote", { pressed: voted, icon: "▲", forName: name }));
    }
    if (host) {
      if (state === "open") {
        actions.append(button(t("mark_answered"), "state1", "answered"), button(t("dismiss"), "state2", "dismissed"));
      } else {
        actions.append(button(t("reopen"), "state1", "open"));
      }
    }
    if (actions.childNodes.length) li.append(actions);
    return li;
  }

  function renderQuestions() {
    const all = [...questions.values()];
    const host = client.isHost();
    const { open, closed } = orderQuestions(all, host);
    preserveFocus(el.questions, () => {
      el.qOpen.replaceChildren(...open.map(questionItem));
      el.qClosed.replaceChildren(...closed.map(questionItem));
    });
    el.answeredHeading.hidden = closed.length === 0;
    el.qEmpty.hidden = open.length + closed.length > 0;
    renderBadges();
  }

  el.questions.addEventListener("click", (ev) => {
    const b = /** @type {HTMLButtonElement} */ (/** @type {Element} */ (ev.target).closest("button[data-action]"));
    const li = /** @type {HTMLLIElement} */ (b && b.closest("li[data-question-id]"));
    if (!li) return;
    const q = [...questions.values()].find((x) => String(x.id) === li.dataset.questionId);
    if (!q) return;
    if (b.dataset.action === "upvote") {
      const up = !client.myVotes.has(q.id);
      const ref = client.upvote(q.id, up);
      if (!ref) return notConnected();
      pendingVotes.set(ref, { id: q.id, up });
      q.votes = Math.max(0, (q.votes || 0) + (up ? 1 : -1));
      schedule("questions");
      return;
    }
    if (!client.markQuestion(q.id, b.dataset.action)) notConnected();
  });

  // ---- tabs: chat, questions, people ----

  let unread = 0;

  function currentTab() {
    const sel = el.tabs.find((b) => b.getAttribute("aria-selected") === "true");
    return sel ? sel.id.replace("tab-", "") : "chat";
  }

  function selectTab(tab, focus) {
    for (const b of el.tabs) {
      const on = b === tab;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
      const panel = document.getElementById(b.getAttribute("aria-controls"));
      if (panel) panel.hidden = !on;
    }
    if (focus) tab.focus();
    if (currentTab() === "chat") unread = 0;
    renderBadges();
    reportViewsSoon();
  }

  for (const b of el.tabs) {
    b.addEventListener("click", () => selectTab(b));
    b.addEventListener("keydown", (ev) => {
      const i = el.tabs.indexOf(b);
      let j = -1;
      if (ev.key === "ArrowRight") j = (i + 1) % el.tabs.length;
      else if (ev.key === "ArrowLeft") j = (i - 1 + el.tabs.length) % el.tabs.length;
      else if (ev.key === "Home") j = 0;
      else if (ev.key === "End") j = el.tabs.length - 1;
      if (j < 0) return;
      ev.preventDefault();
      selectTab(el.tabs[j], true);
    });
  }

  function badge(span, n) {
    span.textContent = n > 0 ? String(n) : "";
    span.hidden = !(n > 0);
  }

  function renderBadges() {
    badge(el.chatUnread, unread);
    badge(el.questionsCount, [...questions.values()].filter((q) => (q.state || "open") === "open").length);
    badge(el.handsCount, [...client.participants.values()].filter((p) => p.hand).length);
  }

  // ---- keyboard shortcuts: M microphone, V camera, H hand (never while typing) ----

  function typing(target) {
    if (!target || !target.closest) return false;
    return !!target.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]");
  }

  document.addEventListener("keydown", (ev) => {
    if (!joined || ev.defaultPrevented || ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat || typing(ev.target)) return;
    const target = { m: el.mic, v: el.camera, h: el.hand }[ev.key.toLowerCase()];
    if (!target || target.hidden || target.disabled) return;
    ev.preventDefault();
    target.click();
  });

  // ---- connection quality, from the browser's own statistics every 2 s ----

  let lastQuality = null; // {lost, received} of the previous sample
  async function sampleQuality() {
    const pcs = [client.downPC, client.upPC].filter((pc) => pc && pc.connectionState === "connected");
    if (!client.connected || !pcs.length) {
      el.quality.hidden = true;
      return;
    }
    let rtt = null;
    let rate = null;
    let lost = 0;
    let received = 0;
    let bytes = 0;
    let outRate = null;
    const now = performance.now();
    for (const pc of pcs) {
      let stats;
      try {
        stats = await pc.getStats();
      } catch {
        continue;
      }
      let pairId = null;
      for (const r of stats.values()) if (r.type === "transport" && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
      for (const r of stats.values()) {
        if (r.type === "candidate-pair" && (r.id === pairId || (!pairId && r.nominated && r.state === "succeeded"))) {
          if (r.currentRoundTripTime != null) rtt = Math.max(rtt || 0, r.currentRoundTripTime);
          if (pc === client.downPC && r.availableIncomingBitrate) rate = r.availableIncomingBitrate;
          if (pc === client.upPC && r.availableOutgoingBitrate) outRate = r.availableOutgoingBitrate;
        }
        if (r.type === "inbound-rtp") {
          lost += Math.max(0, r.packetsLost || 0);
          received += r.packetsReceived || 0;
          bytes += r.bytesReceived || 0;
        }
      }
    }
    let loss = 0;
    if (lastQuality) {
      const dl = lost - lastQuality.lost;
      const dr = received - lastQuality.received;
      if (dl > 0 && dl + dr > 0) loss = (100 * dl) / (dl + dr);
      // Browsers that do not estimate the incoming bandwidth: what actually came in.
      const secs = (now - lastQuality.at) / 1000;
      if (rate == null && secs > 0 && bytes >= lastQuality.bytes) rate = ((bytes - lastQuality.bytes) * 8) / secs;
    }
    lastQuality = { lost, received, bytes, at: now };
    if (!rate) rate = outRate;
    const ms = rtt == null ? null : Math.round(rtt * 1000);
    let q = "good";
    if (client.videoPaused || (ms != null && ms > 400) || loss > 8) q = "poor";
    else if ((ms != null && ms > 200) || loss > 2) q = "fair";
    el.quality.hidden = false;
    el.quality.dataset.quality = q;
    el.quality.dataset.rttMs = ms == null ? "" : String(ms);
    el.quality.dataset.loss = loss.toFixed(1);
    el.qualityText.textContent = t("quality_" + q);
    el.qualityDetails.textContent = t("quality_details", {
      rtt: ms == null ? "–" : ms.toLocaleString(lang),
      loss: loss.toLocaleString(lang, { maximumFractionDigits: 1 }),
      rate: rate ? kbpsText(Math.round(rate / 1000)) : "–",
    });
  }
  setInterval(() => {
    sampleQuality().catch(() => {});
  }, 2000);

  // ---- page life ----

  window.addEventListener("pagehide", () => {
    if (client.connected) client.leave();
  });
  window.addEventListener("pageshow", (e) => {
    if (joined && e.persisted && (client.state === "closed" || client.state === "idle")) client.connect().catch(() => {});
  });

  renderControls();
  renderBadges();

  function enterRoom() {
    joined = true;
    el.prejoin.hidden = true;
    el.roomView.hidden = false;
    root.classList.add("joined");
    const open = $("room-open");
    if (open) open.hidden = true;
    // The room fills the window: stage, controls and side panels in view together.
    root.scrollIntoView({ block: "start" });
  }

  if (root.dataset.ended === "true") {
    // A host opening an ended session: it opens again only when they choose to.
    enterRoom();
    setStatus("closed", t("ended"));
    lastClose = "ended";
    el.rejoin.hidden = false;
    return;
  }
  setupPrejoin({
    t,
    onStage: root.dataset.onStage === "true",
    onJoin(chosen) {
      // The devices chosen in the check are the ones published on stage.
      if (chosen.cameraId) client.videoConstraints = Object.assign({}, client.videoConstraints, { deviceId: { exact: chosen.cameraId } });
      if (chosen.micId) client.audioConstraints = Object.assign({}, client.audioConstraints, { deviceId: { exact: chosen.micId } });
      speakerSink = chosen.speakerId;
      enterRoom();
      client.connect().catch(() => {}); // the state event shows what went wrong
    },
  });
}
