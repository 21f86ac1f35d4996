// The one drawing code of every mode: people (box, skeleton, keypoints, track id) on a canvas,
// with the skeleton as the server describes it (/api/model), so any keypoint set draws.
"use strict";

function drawPeople(context, people, skeleton, threshold, scale) {
  const line = Math.max(2, 3 * scale);
  context.lineWidth = line;
  context.font = `${Math.round(14 * scale)}px sans-serif`;
  for (const person of people) {
    const points = person.keypoints;
    skeleton.edges.forEach(([a, b], index) => {
      if (points[a][2] < threshold || points[b][2] < threshold) return;
      context.strokeStyle = colour(skeleton.edge_colours[index]);
      context.beginPath();
      context.moveTo(points[a][0], points[a][1]);
      context.lineTo(points[b][0], points[b][1]);
      context.stroke();
    });
    context.fillStyle = "#ffffff";
    for (const [x, y, confidence] of points) {
      if (confidence < threshold) continue;
      context.beginPath();
      context.arc(x, y, line * 1.2, 0, 2 * Math.PI);
      context.fill();
    }
    drawBox(context, person, line);
  }
}

function drawBox(context, person, line) {
  const [x1, y1, x2, y2] = person.box;
  context.strokeStyle = "rgba(0, 255, 0, 0.8)";
  context.lineWidth = line / 2;
  context.strokeRect(x1, y1, x2 - x1, y2 - y1);
  const label = person.track_id == null ? person.score.toFixed(2) : `#${person.track_id}`;
  context.fillStyle = "rgba(0, 255, 0, 0.9)";
  context.fillText(label, x1 + 2, Math.max(y1 - 4, 12));
}

function colour(bgr) {  // the skeleton's colours are OpenCV's, blue first
  return bgr ? `rgb(${bgr[2]}, ${bgr[1]}, ${bgr[0]})` : "#ff8800";
}
