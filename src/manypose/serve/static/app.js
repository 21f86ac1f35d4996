// The page: camera frames to the server over a WebSocket or to the in-browser model, drawn on
// canvas#overlay; image and video uploads. window.manypose keeps what a test or a user reads.
"use strict";

const state = window.manypose = { frames: 0, people: 0, fps: 0, mode: null, ms: {}, errors: [], history: [] };
const HISTORY = 500;  // frames whose timings are kept, for benchmarks
const $ = (id) => document.getElementById(id);
let model = null, running = false;

async function main() {
  model = await (await fetch("/api/model")).json();
  $("model-name").textContent = model.name;
  $("start-server").onclick = () => startCamera("server");
  $("start-browser").onclick = () => startCamera("browser");
  $("stop").onclick = () => { running = false; };
  if (!model.client) {
    $("start-browser").disabled = true;
    $("browser-note").textContent = `in-browser mode: ${model.client_unavailable}`;
  }
  $("image-file").onchange = (event) => event.target.files[0] && predictImage(event.target.files[0]);
  $("video-file").onchange = (event) => event.target.files[0] && uploadVideo(event.target.files[0]);
  const asked = new URLSearchParams(location.search);
  if (asked.get("autostart")) startCamera(asked.get("mode") || "server");
}

function report(error) {
  state.errors.push(String(error));
  $("stats").textContent = String(error);
  $("stats").className = "stats error";
}

async function startCamera(mode) {
  if (running) return;
  running = true;
  state.mode = mode;
  state.frames = 0;
  state.history = [];
  $("stop").disabled = false;
  try {
    const camera = $("camera");
    camera.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    await camera.play();
    const run = mode === "server" ? await serverRunner() : await loadInBrowserModel(model.client);
    await cameraLoop(camera, run);
  } catch (error) {
    report(error);
  } finally {
    running = false;
    $("stop").disabled = true;
    const stream = $("camera").srcObject;
    if (stream) stream.getTracks().forEach((track) => track.stop());
  }
}

async function cameraLoop(camera, run) {
  const overlay = $("overlay"), grab = document.createElement("canvas");
  const width = camera.videoWidth, height = camera.videoHeight;
  overlay.width = grab.width = width;
  overlay.height = grab.height = height;
  const context = overlay.getContext("2d");
  let last = performance.now();
  while (running) {
    grab.getContext("2d").drawImage(camera, 0, 0, width, height);
    const result = await run(grab, width, height);
    const drawStart = performance.now();
    context.clearRect(0, 0, width, height);
    drawPeople(context, result.people, model.skeleton, model.keypoint_threshold, width / 640);
    const now = performance.now();
    state.frames += 1;
    state.people = result.people.length;
    state.fps = state.fps ? 0.9 * state.fps + 0.1 * (1000 / (now - last)) : 1000 / (now - last);
    state.ms = { ...result.ms, draw: now - drawStart, frame: now - last };
    state.history.push(state.ms);
    if (state.history.length > HISTORY) state.history.shift();
    last = now;
    showStats();
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
}

function showStats() {
  const parts = Object.entries(state.ms).map(([name, value]) => `${name} ${value.toFixed(1)} ms`);
  $("stats").textContent = `${state.mode}: ${state.fps.toFixed(1)} fps, ${state.people} people; ${parts.join(", ")}`;
  $("stats").className = "stats";
}

// Server mode: one JPEG per message, one JSON answer per frame, in order.
async function serverRunner() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/stream`);
  socket.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = () => reject(new Error("WebSocket failed")); });
  const waiting = [];
  socket.onmessage = (message) => waiting.shift()(JSON.parse(message.data));
  socket.onclose = () => { running = false; };
  return async (canvas) => {
    const sent = performance.now();
    const jpeg = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    const answer = await new Promise((resolve) => { waiting.push(resolve); socket.send(jpeg); });
    if (answer.error) throw new Error(answer.error);
    answer.ms.round_trip = performance.now() - sent;
    return answer;
  };
}

async function predictImage(file) {
  const form = new FormData();
  form.append("image", file);
  $("image-status").textContent = "running...";
  const response = await fetch("/api/predict", { method: "POST", body: form });
  const answer = await response.json();
  if (!response.ok) {
    $("image-status").textContent = answer.error;
    return;
  }
  const picture = await createImageBitmap(file, { imageOrientation: "from-image" });
  const canvas = $("image-result");
  canvas.width = answer.width;
  canvas.height = answer.height;
  const context = canvas.getContext("2d");
  context.drawImage(picture, 0, 0, answer.width, answer.height);
  drawPeople(context, answer.people, model.skeleton, model.keypoint_threshold, Math.max(answer.width, answer.height) / 640);
  $("image-status").textContent = `${answer.people.length} people, ${answer.ms.total.toFixed(0)} ms on the server`;
}

function uploadVideo(file) {
  const form = new FormData();
  form.append("video", file);
  const request = new XMLHttpRequest();
  const bar = $("video-progress");
  bar.hidden = false;
  request.upload.onprogress = (event) => { bar.value = event.total ? event.loaded / event.total : 0; };
  request.onload = () => {
    const answer = JSON.parse(request.responseText);
    if (request.status >= 400) {
      $("video-status").textContent = answer.error;
      return;
    }
    followVideoJob(answer.id);
  };
  $("video-status").textContent = "uploading...";
  request.open("POST", "/api/video");
  request.send(form);
}

async function followVideoJob(id) {
  const bar = $("video-progress");
  while (true) {
    const job = await (await fetch(`/api/video/${id}`)).json();
    bar.value = job.progress || 0;
    $("video-status").textContent = `${job.state}: ${job.frames}${job.total_frames ? " of " + job.total_frames : ""} frames`;
    if (job.state === "failed") {
      $("video-status").textContent = job.error;
      return;
    }
    if (job.state === "done") {
      $("video-result").src = job.video;
      $("video-result").hidden = false;
      $("video-jsonl").href = job.jsonl;
      $("video-jsonl").hidden = false;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

main().catch(report);
