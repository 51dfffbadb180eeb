// The device check before joining a live room: a camera preview, camera, microphone and
// speaker pickers, a microphone level meter and a test sound. Nothing here is needed to
// join: someone without a camera or microphone, or who does not allow them, joins all the
// same and watches, listens, chats and asks.

// setupPrejoin wires the check in the page. onStage starts the preview at once (hosts and
// speakers see how they look before going on stage); the audience starts it only if they
// ask. onJoin gets the chosen devices ({cameraId, micId, speakerId}; "" for the default).
export function setupPrejoin({ t, onStage, onJoin }) {
  const $ = (id) => document.getElementById(id);
  const el = {
    video: /** @type {HTMLVideoElement} */ ($("prejoin-video")),
    placeholder: $("prejoin-placeholder"),
    check: $("prejoin-check"),
    status: $("prejoin-media-status"),
    camera: /** @type {HTMLSelectElement} */ ($("prejoin-camera")),
    mic: /** @type {HTMLSelectElement} */ ($("prejoin-mic")),
    level: /** @type {HTMLMeterElement} */ ($("prejoin-level")),
    speakerRow: $("prejoin-speaker-row"),
    speaker: /** @type {HTMLSelectElement} */ ($("prejoin-speaker")),
    tone: $("prejoin-tone"),
    join: $("join-button"),
  };
  const canPickSpeaker = typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
  let stream = null;
  let audioCtx = null;
  let meterTimer = null;
  let joined = false;
  let asking = 0; // counts requests, so an old answer never replaces a newer one

  function setStatus(text, kind) {
    el.status.textContent = text;
    el.status.dataset.kind = kind || "";
  }

  function stopPreview() {
    clearInterval(meterTimer);
    meterTimer = null;
    if (stream) for (const tr of stream.getTracks()) tr.stop();
    stream = null;
    el.video.srcObject = null;
    el.video.hidden = true;
    el.placeholder.hidden = false;
    el.level.value = 0;
  }

  function context() {
    const AC = window.AudioContext || /** @type {any} */ (window).webkitAudioContext; // older Safari
    if (!AC) return null;
    if (!audioCtx) audioCtx = new AC();
    if (audioCtx.state === "suspended") audioCtx.resume().catch(() => {});
    return audioCtx;
  }

  // The level meter: the microphone's loudness (RMS of the waveform) every 100 ms.
  function startMeter(track) {
    const ctx = context();
    if (!ctx) return;
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    clearInterval(meterTimer);
    meterTimer = setInterval(() => {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      const rms = Math.sqrt(sum / buf.length);
      el.level.value = Math.min(1, rms * 5);
    }, 100);
  }

  function mediaError(err) {
    const name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") return ["prejoin_denied", "denied"];
    if (name === "NotFoundError" || name === "OverconstrainedError") return ["prejoin_none", "none"];
    return ["prejoin_failed", "failed"];
  }

  async function getMedia(video, audio) {
    try {
      return await navigator.mediaDevices.getUserMedia({ video, audio });
    } catch (err) {
      if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) throw err;
      // With one of the two missing, still check the other.
      for (const opts of [{ audio }, { video }]) {
        try {
          return await navigator.mediaDevices.getUserMedia(opts);
        } catch {
          /* try the other */
        }
      }
      throw err;
    }
  }

  async function check() {
    const n = ++asking;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      setStatus(t("prejoin_none"), "none");
      return;
    }
    setStatus(t("prejoin_checking"), "checking");
    const video = el.camera.value ? { deviceId: { exact: el.camera.value }, width: { ideal: 1280 }, height: { ideal: 720 } } : { width: { ideal: 1280 }, height: { ideal: 720 } };
    const audio = el.mic.value ? { deviceId: { exact: el.mic.value } } : true;
    let s;
    try {
      s = await getMedia(video, audio);
    } catch (err) {
      if (n !== asking) return;
      stopPreview();
      const [key, kind] = mediaError(err);
      setStatus(t(key), kind);
      await listDevices();
      return;
    }
    if (n !== asking || joined) {
      for (const tr of s.getTracks()) tr.stop();
      return;
    }
    stopPreview();
    stream = s;
    const cam = s.getVideoTracks()[0];
    const mic = s.getAudioTracks()[0];
    if (cam) {
      el.video.srcObject = new MediaStream([cam]);
      el.video.hidden = false;
      el.placeholder.hidden = true;
      el.video.play().catch(() => {});
    }
    if (mic) startMeter(mic);
    setStatus(cam && mic ? t("prejoin_ready") : t(cam ? "prejoin_no_mic" : "prejoin_no_camera"), "ready");
    await listDevices();
  }

  function fill(select, devices, noneKey, current) {
    const keep = current || select.value;
    const opts = devices.map((d, i) => {
      const o = document.createElement("option");
      o.value = d.deviceId;
      o.textContent = d.label || (d.deviceId === "default" ? t("prejoin_default") : t("prejoin_device", { n: i + 1 }));
      return o;
    });
    if (!opts.length) {
      const o = document.createElement("option");
      o.value = "";
      o.textContent = t(noneKey);
      opts.push(o);
    }
    select.replaceChildren(...opts);
    if (keep && devices.some((d) => d.deviceId === keep)) select.value = keep;
    select.disabled = devices.length < 1 || (devices.length === 1 && !devices[0].deviceId);
  }

  async function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    let all = [];
    try {
      all = await navigator.mediaDevices.enumerateDevices();
    } catch {
      return;
    }
    // Without permission the browser lists devices without ids: nothing to choose.
    const usable = (kind) => all.filter((d) => d.kind === kind && d.deviceId);
    const settings = (tr) => (tr && tr.getSettings ? tr.getSettings() : {});
    fill(el.camera, usable("videoinput"), "prejoin_no_camera", stream && settings(stream.getVideoTracks()[0]).deviceId);
    fill(el.mic, usable("audioinput"), "prejoin_no_mic", stream && settings(stream.getAudioTracks()[0]).deviceId);
    if (canPickSpeaker) {
      const outs = usable("audiooutput");
      fill(el.speaker, outs, "prejoin_default");
      el.speakerRow.hidden = outs.length === 0;
    }
  }

  // The test sound: a short two-note chime, generated, through the chosen speaker.
  async function playTone() {
    const ctx = context();
    if (!ctx) return;
    const gain = ctx.createGain();
    const now = ctx.currentTime;
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.3, now + 0.05);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.9);
    const osc = ctx.createOscillator();
    osc.frequency.setValueAtTime(660, now);
    osc.frequency.setValueAtTime(880, now + 0.3);
    osc.connect(gain);
    let out = null;
    if (canPickSpeaker && el.speaker.value && ctx.createMediaStreamDestination) {
      const dest = ctx.createMediaStreamDestination();
      gain.connect(dest);
      out = new Audio();
      out.srcObject = dest.stream;
      try {
        await out.setSinkId(el.speaker.value);
      } catch {
        /* the default speaker, then */
      }
      out.play().catch(() => {});
    } else {
      gain.connect(ctx.destination);
    }
    el.tone.dataset.played = "playing";
    osc.onended = () => {
      el.tone.dataset.played = "true";
      if (out) out.srcObject = null;
    };
    osc.start(now);
    osc.stop(now + 0.95);
  }

  el.check.addEventListener("click", () => check());
  el.camera.addEventListener("change", () => check());
  el.mic.addEventListener("change", () => check());
  el.tone.addEventListener("click", () => playTone());
  el.join.addEventListener("click", () => {
    if (joined) return;
    joined = true;
    asking++;
    const chosen = { cameraId: el.camera.value || "", micId: el.mic.value || "", speakerId: (canPickSpeaker && el.speaker.value) || "" };
    stopPreview();
    if (audioCtx) audioCtx.close().catch(() => {});
    audioCtx = null;
    onJoin(chosen);
  });

  listDevices();
  if (onStage) check();
}
