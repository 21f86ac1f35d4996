"""`manypose video`: tracked poses in a video, image sequence, camera or stream."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..track import TrackerOptions
from ..track_offline import OfflineOptions
from .options import EXIT_FAILURES, add_model_options, estimator_from_args, model_inputs, positive_int

TRACKING = TrackerOptions()


def add(commands) -> None:
    p = commands.add_parser(
        "video", help="poses in a video, image sequence, camera or stream, with persistent track ids",
        description="Find and track people frame by frame. SOURCE is a video file (.mp4, .avi, .mkv, ...), "
                    "an animated GIF, a folder or glob of frames ('frames/*.jpg', in natural order), a camera "
                    "index (0) or a stream URL (rtsp://...). Every frame read gets one output frame and one "
                    "JSON line; a frame that cannot be decoded is reported and skipped, its line says so. "
                    "Ctrl-C stops early and finishes the outputs up to the last frame done. The same tracking "
                    "as estimator.track() in Python with the same options.")
    p.add_argument("source", metavar="SOURCE", help="video file, GIF, folder or glob of images, camera index or URL")
    add_model_options(p, default_threshold=None)
    p.add_argument("--video-output", metavar="FILE",
                   help="write the annotated video (.mp4, .mkv, .mov, .avi): the source's size and frame rate; "
                        "H.264 that browsers play when PyAV is installed (pip install 'manypose[video]'), "
                        "else OpenCV's MPEG-4; never over an input")
    p.add_argument("--json-output", metavar="FILE.jsonl",
                   help="write one JSON line per frame: frame index, timestamp in seconds, poses (track_id, "
                        "score, box, keypoints as [x, y, confidence]), and 'error' for unreadable frames; "
                        "- for stdout; never over an input")
    p.add_argument("--start", type=_position, default=0, metavar="N|Ts",
                   help="first frame: a frame number (120) or a time in seconds (4.5s); default 0")
    p.add_argument("--end", type=_position, default=None, metavar="N|Ts",
                   help="stop before this frame number or time (default: the end of the source)")
    p.add_argument("--max-frames", type=positive_int, default=None, metavar="N", help="take at most N frames")
    p.add_argument("--frame-stride", type=positive_int, default=1, metavar="K",
                   help="take every K-th frame (the output runs at the source's rate / K)")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of a folder or glob of images (default 30); videos carry their own")
    p.add_argument("--track", action=argparse.BooleanOptionalAction, default=True,
                   help="persistent person ids, ByteTrack-style (default on); --no-track runs frames independently")
    p.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=True,
                   help="One-Euro smoothing of tracked keypoints, in seconds from the frame timestamps (default on)")
    p.add_argument("--track-buffer", type=int, default=TRACKING.max_lost_frames, metavar="N",
                   help=f"frames a lost person keeps their id (default {TRACKING.max_lost_frames})")
    p.add_argument("--offline", action="store_true",
                   help="for recordings: track every frame first, then join tracks broken by occlusion (by "
                        "appearance and heading), fill in people missing up to a second, and smooth their paths "
                        "forwards and backwards (no lag); the outputs are written in a second reading of the "
                        "source. Not for cameras and streams")
    p.add_argument("--show", action="store_true", help="show the annotated frames in a window (q or Esc quits)")
    p.set_defaults(run=run)


def _position(text: str):
    from ..video import parse_position

    try:
        return parse_position(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run(args) -> int:
    from tqdm import tqdm

    from ..video import FrameRange, Outputs, open_source, run_video
    from ..video.pipeline import check_display

    frame_range = FrameRange(args.start, args.end, args.max_frames, args.frame_stride)
    tracker = TrackerOptions(smooth=args.smooth, max_lost_frames=args.track_buffer)
    if args.offline and (args.show or not args.track):
        raise ValueError("--offline tracks a whole recording before writing it: not with --show or --no-track")
    if args.show:
        check_display()
    source = open_source(args.source, fps=args.fps)
    if args.offline and source.live:
        raise ValueError(f"{args.source}: --offline needs a recording (a file or images), not a camera or stream")
    _refuse_overwriting_inputs(args, source)
    outputs = Outputs(args.video_output, args.json_output, source.fps / args.frame_stride, source.size)
    report = run_video(estimator_from_args(args, tracker), source, frame_range, args.track, outputs, show=args.show,
                       progress=not args.quiet, on_error=lambda message: tqdm.write(f"error: {message}", file=sys.stderr),
                       offline=OfflineOptions() if args.offline else None)
    _print_report(args, report)
    if report.interrupted:
        print(f"stopped early after {report.frames} frames; the outputs hold them all", file=sys.stderr)
        return 130
    return EXIT_FAILURES if report.failed else 0


def _refuse_overwriting_inputs(args, source) -> None:
    from ..run_plan import refuse_overwriting_inputs

    folder = [("the source folder", args.source)] if Path(args.source).is_dir() else []
    read = folder + [("the source", path) for path in source.files] + model_inputs(args.model, args.calibration_images)
    refuse_overwriting_inputs(read, files=[("the annotated video", args.video_output),
                                           ("the JSON lines", args.json_output)])


def _print_report(args, report) -> None:
    ids = f", {len(report.track_ids)} track ids" if args.track else ""
    people = "person" if report.most_people == 1 else "people"
    print(f"{report.frames} frames at {report.fps:.1f} frames/s, at most {report.most_people} {people} in a "
          f"frame{ids}" + (f"; {report.failed} frames could not be read" if report.failed else ""), file=sys.stderr)
    for path, what in ((args.video_output, "the annotated video"), (args.json_output, "the JSON lines")):
        if path and report.frames and path != "-":
            print(f"wrote {what} to {path}", file=sys.stderr)
