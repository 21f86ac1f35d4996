// In-browser mode: the model runs in the page with onnxruntime-web (WebGPU when the browser has
// it, else wasm) and is decoded here as the server decodes poses as objects: letterbox, person
// score threshold, box NMS, coordinates mapped back onto the frame. No frame leaves the machine.
"use strict";

async function loadInBrowserModel(settings) {
  await loadScript("/client/ort/ort.all.min.js");
  ort.env.wasm.wasmPaths = "/client/ort/";
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const adapter = navigator.gpu ? await navigator.gpu.requestAdapter().catch(() => null) : null;
  const providers = adapter ? ["webgpu", "wasm"] : ["wasm"];
  let session;
  try {
    session = await ort.InferenceSession.create(settings.onnx, { executionProviders: providers });
  } catch (error) {  // a WebGPU adapter may be announced and still fail: wasm always runs
    session = await ort.InferenceSession.create(settings.onnx, { executionProviders: ["wasm"] });
  }
  const letterboxCanvas = document.createElement("canvas");
  return async (source, width, height) => {
    const started = performance.now();
    const { tensor, box } = letterbox(source, width, height, settings, letterboxCanvas);
    const prepared = performance.now();
    const outputs = await session.run({ [session.inputNames[0]]: tensor });
    const ran = performance.now();
    const output = outputs[session.outputNames[0]];
    const people = decodePoseObjects(output.data, output.dims, settings, box, width, height);
    return { people, ms: { prepare: prepared - started, net: ran - prepared, decode: performance.now() - ran } };
  };
}

function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`cannot load ${url}`));
    document.head.appendChild(script);
  });
}

// As data/transforms.letterbox: long side to `size`, padded to a multiple of the stride, centred.
function letterbox(source, width, height, settings, canvas) {
  const scale = Math.min(settings.size / height, settings.size / width);
  const newWidth = Math.max(1, Math.round(width * scale)), newHeight = Math.max(1, Math.round(height * scale));
  const canvasWidth = Math.ceil(newWidth / settings.stride) * settings.stride;
  const canvasHeight = Math.ceil(newHeight / settings.stride) * settings.stride;
  const left = Math.round((canvasWidth - newWidth) / 2 - 0.1), top = Math.round((canvasHeight - newHeight) / 2 - 0.1);
  canvas.width = canvasWidth;
  canvas.height = canvasHeight;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const pad = settings.pad;
  context.fillStyle = `rgb(${pad}, ${pad}, ${pad})`;
  context.fillRect(0, 0, canvasWidth, canvasHeight);
  context.drawImage(source, left, top, newWidth, newHeight);
  const pixels = context.getImageData(0, 0, canvasWidth, canvasHeight).data;
  const plane = canvasWidth * canvasHeight;
  const blob = new Float32Array(3 * plane);
  const order = settings.rgb ? [0, 1, 2] : [2, 1, 0];
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) blob[c * plane + i] = pixels[4 * i + order[c]] * settings.scale;
  }
  const tensor = new ort.Tensor("float32", blob, [1, 3, canvasHeight, canvasWidth]);
  return { tensor, box: { scale, left, top } };
}

// (1, 4 + classes + K*3, anchors) -> people on the frame, as decoders/yolo_pose.py.
function decodePoseObjects(data, dims, settings, box, width, height) {
  const rows = dims[1], anchors = dims[2], classes = settings.classes;
  const keypointCount = (rows - 4 - classes) / 3;
  const candidates = [];
  for (let i = 0; i < anchors; i++) {
    let score = 0;
    for (let c = 0; c < classes; c++) score = Math.max(score, data[(4 + c) * anchors + i]);
    if (score > settings.score_threshold) candidates.push({ i, score });
  }
  candidates.sort((a, b) => b.score - a.score);
  const kept = [];
  for (const candidate of candidates) {
    if (kept.length >= settings.max_detections) break;
    const at = (row) => data[row * anchors + candidate.i];
    const [cx, cy, w, h] = [at(0), at(1), at(2), at(3)];
    candidate.box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
    if (kept.every((other) => iou(other.box, candidate.box) <= settings.iou_threshold)) kept.push(candidate);
  }
  const back = (x, offset, limit) => Math.min(Math.max((x - offset) / box.scale, 0), limit);
  return kept.map((candidate) => {
    const at = (row) => data[row * anchors + candidate.i];
    const keypoints = [];
    for (let k = 0; k < keypointCount; k++) {
      const row = 4 + classes + 3 * k;
      keypoints.push([back(at(row), box.left, width), back(at(row + 1), box.top, height), at(row + 2)]);
    }
    const [x1, y1, x2, y2] = candidate.box;
    return { box: [back(x1, box.left, width), back(y1, box.top, height), back(x2, box.left, width), back(y2, box.top, height)],
             score: candidate.score, keypoints, track_id: null };
  });
}

function iou(a, b) {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return inter / Math.max(union, 1e-9);
}
