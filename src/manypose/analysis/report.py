"""The diagnosis as a folder a person reads: PNG plots of the summary's numbers under plots/, the
caller's drawn images under gallery/, and one report.html that shows them beside tables of the
numbers. The page is self-contained: inline CSS, no script, no external address; images by
relative path. After Ronchi and Perona, "Benchmarking and Error Diagnosis in Multi-Instance Pose
Estimation" (ICCV 2017).

matplotlib and OpenCV are imported only when a report is written, so importing this is cheap."""
from __future__ import annotations

import html
import io
import math
import re
from pathlib import Path

import numpy as np

from ..atomic_files import atomic_write_bytes, atomic_write_text

PLOTS = "plots"
GALLERY = "gallery"
REPORT = "report.html"
AP_KEYS = ("AP", "AP50", "AP75")
AP_TITLES = {"AP": "AP (OKS .50:.95)", "AP50": "AP at OKS .50", "AP75": "AP at OKS .75"}
KINDS = ("good", "jitter", "inversion", "swap", "miss")
KIND_COLOURS = {"good": "#4daf4a", "jitter": "#ffbf00", "inversion": "#ff7f00", "swap": "#e41a1c",
                "miss": "#377eb8"}
STEP_LABELS = {"baseline": "original", "miss": "miss", "swap": "swap", "inversion": "inversion",
               "jitter": "jitter", "score": "score", "background_fp": "background FP",
               "false_negatives": "false negatives"}
# what each cumulative step corrects, in the paper's words (its thresholds are errors.py's business)
STEP_MEANINGS = {
    "miss": "keypoints far from every ground truth keypoint moved onto their own",
    "swap": "keypoints placed on another person's body part moved onto their own",
    "inversion": "keypoints placed on the same person's left/right counterpart moved onto their own",
    "jitter": "keypoints near, but not on, their own ground truth moved onto it",
    "score": "detections ranked by their best OKS instead of their score",
    "background_fp": "detections that match no person removed",
    "false_negatives": "people no detection matches removed from the ground truth",
}
SIZES = ("medium", "large")
SIZE_THRESHOLDS = ("0.5", "0.75")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1, h2 { font-weight: 600; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f4f4; }
img { max-width: 100%; } figure { margin: 1em 0; }
figcaption { font-size: .9em; color: #555; }
.gallery figure { display: inline-block; vertical-align: top; max-width: 48%; margin-right: 1%; }
"""


def write_report(summary: dict, output: Path, gallery: list | None = None) -> Path:
    """Plots under output/plots/, gallery images under output/gallery/ and output/report.html that
    shows them with the numbers; returns the page's path. `gallery`: dicts with "image" (a BGR
    array, drawn already), "file_name" and "caption"."""
    output = Path(output)
    plots = write_plots(summary, output / PLOTS)
    shown = write_gallery(gallery or [], output / GALLERY)
    path = output / REPORT
    atomic_write_text(path, render_html(summary, plots, shown))
    return path


# ---------------------------------------------------------------- numbers made ready to show


def format_ap(value) -> str:
    """AP as COCO prints it (0.xxx); pycocotools' -1 (no people of that kind) reads n/a."""
    if value is None or not math.isfinite(value) or value < 0:
        return "n/a"
    return f"{value:.3f}"


def format_gain(value) -> str:
    return "" if value is None else f"{value:+.3f}"


def step_gains(values: list) -> list:
    """The AP each cumulative correction step adds to the one before (None for the first step and
    where either side has no data)."""
    gains = [None]
    for before, after in zip(values, values[1:]):
        known = format_ap(before) != "n/a" and format_ap(after) != "n/a"
        gains.append(after - before if known else None)
    return gains


def curve_points(recall, precision) -> tuple[np.ndarray, np.ndarray]:
    """The points of a precision/recall curve that have data: pycocotools writes -1 where none."""
    recall, precision = np.asarray(recall, dtype=float), np.asarray(precision, dtype=float)
    keep = np.isfinite(precision) & (precision >= 0)
    return recall[keep], precision[keep]


def kind_shares(per_keypoint: dict, kinds=KINDS) -> np.ndarray:
    """Per keypoint (rows, in dict order) the share of each kind of outcome; zeros where a keypoint
    was never matched, rather than a division by zero."""
    counts = np.array([[per_keypoint[name].get(kind, 0) for kind in kinds] for name in per_keypoint],
                      dtype=float).reshape(len(per_keypoint), len(kinds))
    totals = counts.sum(1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def bin_labels(edges) -> list[str]:
    return [f"{low:g}–{high:g}" for low, high in zip(edges, edges[1:])]


def plain(name) -> str:
    """A name from the data as matplotlib text: a pair of $ would start mathtext (and a bad formula
    would stop the drawing)."""
    return str(name).replace("$", r"\$")


def ordered_keypoints(summary: dict, per_keypoint: dict) -> dict:
    """per_keypoint in the skeleton's order where the summary names it (JSON keeps it anyway)."""
    names = [name for name in summary.get("keypoints", []) if name in per_keypoint]
    names += [name for name in per_keypoint if name not in names]
    return {name: per_keypoint[name] for name in names}


# ---------------------------------------------------------------- plots


def write_plots(summary: dict, folder: Path) -> dict[str, str]:
    """Every plot the summary has data for, as {file name: path relative to the report}."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, draw in PLOTTERS.items():
        figure = draw(summary)
        if figure is not None:
            save_png(figure, folder / name)
            written[name] = f"{PLOTS}/{name}"
    return written


def new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_png(figure, path: Path) -> None:
    # Agg explicitly, without pyplot: the caller's backend and pyplot's figure list stay untouched
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    atomic_write_bytes(path, buffer.getvalue())


def whole_counts(axes) -> None:
    """Ticks at whole numbers on a count axis (no 2.5 people)."""
    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(integer=True))


def plot_error_steps(summary: dict):
    """The paper's bar chart: AP after each cumulative correction, the gain written on each bar."""
    steps = summary.get("error_ap", {}).get("all")
    if not steps:
        return None
    names = list(steps)
    figure = new_figure(13, 4.2)
    for axes, key in zip(figure.subplots(1, len(AP_KEYS), sharey=True), AP_KEYS):
        values = [steps[name].get(key) for name in names]
        heights = [max(value, 0) if value is not None and math.isfinite(value) else 0 for value in values]
        bars = axes.bar(range(len(names)), heights, color=["#888"] + ["#3b75af"] * (len(names) - 1))
        labels = [format_ap(values[0])] + [format_gain(gain) for gain in step_gains(values)[1:]]
        axes.bar_label(bars, labels=labels, fontsize=8, padding=2)
        axes.set_xticks(range(len(names)), [plain(STEP_LABELS.get(name, name)) for name in names],
                        rotation=40, ha="right")
        axes.set(title=AP_TITLES[key], ylim=(0, 1.1))
    figure.axes[0].set_ylabel("AP after correcting each error in turn")
    return figure


def draw_curves(axes, recall, curves: dict, title: str) -> None:
    for threshold, precision in sorted(curves.items(), key=lambda item: float(item[0])):
        points = curve_points(recall, precision)
        axes.plot(*points, label=f"OKS {plain(threshold)}" + ("" if len(points[0]) else " (no data)"))
    axes.set(title=title, xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    axes.grid(alpha=0.3)
    axes.legend(loc="best")


def plot_pr_curves(summary: dict):
    curves = summary.get("pr_curves", {})
    if not curves.get("all"):
        return None
    figure = new_figure(5.5, 4.5)
    draw_curves(figure.subplots(), curves["recall"], curves["all"], "all people")
    return figure


def plot_pr_curves_by_size(summary: dict):
    curves = summary.get("pr_curves", {})
    sizes = [size for size in SIZES if curves.get(size)]
    if not sizes:
        return None
    figure = new_figure(5.5 * len(sizes), 4.5)
    for axes, size in zip(np.atleast_1d(figure.subplots(1, len(sizes))), sizes):
        shown = {t: p for t, p in curves[size].items() if t in SIZE_THRESHOLDS}
        draw_curves(axes, curves["recall"], shown, f"{size} people")
    return figure


def plot_keypoint_errors(summary: dict):
    """Per keypoint, stacked: the share of good, jitter, inversion, swap and miss outcomes."""
    per_keypoint = summary.get("keypoint_errors", {}).get("per_keypoint")
    if not per_keypoint:
        return None
    per_keypoint = ordered_keypoints(summary, per_keypoint)
    shares = kind_shares(per_keypoint)
    figure = new_figure(8, 1.2 + 0.3 * len(per_keypoint))
    axes = figure.subplots()
    rows, left = np.arange(len(per_keypoint)), np.zeros(len(per_keypoint))
    for column, kind in enumerate(KINDS):
        axes.barh(rows, shares[:, column], left=left, color=KIND_COLOURS[kind], label=kind)
        left += shares[:, column]
    axes.set_yticks(rows, [plain(name) for name in per_keypoint])
    axes.invert_yaxis()  # the skeleton's first keypoint on top, as in the table
    axes.set(xlim=(0, 1), xlabel="share of the keypoint's matched predictions")
    axes.legend(ncol=len(KINDS), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return figure


def plot_keypoint_similarity(summary: dict):
    """Small multiples: per keypoint, how many predictions reached each keypoint similarity."""
    similarity = summary.get("keypoint_similarity", {})
    per_keypoint, edges = similarity.get("per_keypoint"), np.asarray(similarity.get("bins", []), float)
    if not per_keypoint or len(edges) < 2:
        return None
    per_keypoint = ordered_keypoints(summary, per_keypoint)
    columns = min(6, len(per_keypoint))
    rows = math.ceil(len(per_keypoint) / columns)
    figure = new_figure(2.2 * columns, 1.8 * rows + 0.4)
    grid = np.atleast_1d(figure.subplots(rows, columns, sharex=True, squeeze=False)).ravel()
    for axes, (name, counts) in zip(grid, per_keypoint.items()):
        axes.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#3b75af")
        axes.set_title(plain(name), fontsize=9)
        axes.tick_params(labelsize=7)
        whole_counts(axes)
    for axes in grid[len(per_keypoint):]:
        axes.set_axis_off()
    figure.supxlabel("keypoint similarity", fontsize=9)
    return figure


def plot_background(summary: dict):
    background = summary.get("background")
    if not background:
        return None
    negatives, positives = background["false_negatives"], background["false_positives"]
    by_score = positives["by_score"]
    panels = [
        ("false negatives by size", "people", list(negatives["by_size"]),
         list(negatives["by_size"].values())),
        ("false negatives by visible keypoints", "people", list(negatives["by_visible_keypoints"]),
         list(negatives["by_visible_keypoints"].values())),
        ("false positives by score", "detections", bin_labels(by_score["bins"]), by_score["counts"]),
    ]
    figure = new_figure(14, 4)
    for axes, (title, unit, labels, counts) in zip(figure.subplots(1, 3), panels):
        axes.bar(range(len(counts)), counts, color=KIND_COLOURS["swap" if unit == "detections" else "miss"])
        crowded = len(labels) > 5  # score bins: slanted labels, else they overlap
        axes.set_xticks(range(len(labels)), [plain(label) for label in labels], rotation=40 if crowded else 0,
                        ha="right" if crowded else "center")
        axes.set(title=title, ylabel=unit)
        whole_counts(axes)
    figure.suptitle(f"background errors at OKS {background.get('oks', 0.5):g}")
    return figure


PLOTTERS = {
    "errors.png": plot_error_steps,
    "pr_curves.png": plot_pr_curves,
    "pr_curves_by_size.png": plot_pr_curves_by_size,
    "keypoint_errors.png": plot_keypoint_errors,
    "keypoint_similarity.png": plot_keypoint_similarity,
    "background.png": plot_background,
}


# ---------------------------------------------------------------- gallery


def gallery_name(number: int, count: int, file_name: str) -> str:
    """NN_<stem>.jpg, numbered in the caller's order; the stem keeps only characters every file
    system takes and an address needs no quoting for (no #, ?, % or space)."""
    stem = re.sub(r"[^\w.-]+", "_", Path(str(file_name).replace("\\", "/")).stem)[:80].strip("._")
    return f"{number:0{max(2, len(str(count)))}d}_{stem or 'image'}.jpg"


def write_gallery(gallery: list, folder: Path) -> list[dict]:
    """Each image as a JPEG under folder; what the page shows of each (src relative to the page)."""
    if not gallery:
        return []
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    shown = []
    for number, item in enumerate(gallery, 1):
        name = gallery_name(number, len(gallery), item["file_name"])
        ok, encoded = cv2.imencode(".jpg", item["image"])
        if not ok:
            raise OSError(f"{folder / name}: could not encode the gallery image")
        atomic_write_bytes(folder / name, encoded.tobytes())
        shown.append({"src": f"{GALLERY}/{name}", "file_name": str(item["file_name"]),
                      "caption": str(item.get("caption", ""))})
    return shown


# ---------------------------------------------------------------- HTML


def text(value) -> str:
    return html.escape(str(value), quote=True)


def table(header: list, rows: list[list]) -> str:
    """A table of plain values, every cell escaped."""
    head = "".join(f"<th>{text(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{text(cell)}</td>" for cell in row) + "</tr>\n" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def image(src: str, alt: str, caption_html: str = "") -> str:
    figcaption = f"<figcaption>{caption_html}</figcaption>" if caption_html else ""
    return f'<figure><img src="{text(src)}" alt="{text(alt)}">{figcaption}</figure>\n'


def plot(plots: dict, name: str, alt: str) -> str:
    return image(plots[name], alt) if name in plots else ""


def share(count, total) -> str:
    return f"{100 * count / total:.1f}%" if total else "n/a"


def render_html(summary: dict, plots: dict, gallery: list[dict]) -> str:
    sections = [section_inputs(summary), section_ap(summary), section_error_ap(summary, plots),
                section_keypoint_errors(summary, plots), section_similarity(plots),
                section_pr_curves(plots), section_background(summary, plots),
                section_worst_images(summary), section_gallery(gallery)]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>Pose error diagnosis: {text(Path(str(summary.get('predictions', ''))).name)}</title>\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>Pose error diagnosis</h1>\n"
            + "".join(sections) + "</body>\n</html>\n")


def section_inputs(summary: dict) -> str:
    rows = [[label, summary[key]] for key, label in
            (("annotations", "annotations"), ("predictions", "predictions"), ("skeleton", "skeleton"),
             ("images", "images"), ("people", "annotated people"), ("detections", "detections"))
            if key in summary]
    return table(["input", ""], rows) if rows else ""


def section_ap(summary: dict) -> str:
    ap = summary.get("AP")
    if not ap:
        return ""
    columns = [("", "OKS .50:.95"), ("50", "OKS .50"), ("75", "OKS .75"), ("m", "medium"),
               ("l", "large")]
    rows = [[metric] + [format_ap(ap.get(metric + suffix)) for suffix, _ in columns]
            for metric in ("AP", "AR")]
    return "<h2>COCO keypoint AP</h2>\n" + table([""] + [label for _, label in columns], rows)


def section_error_ap(summary: dict, plots: dict) -> str:
    error_ap = summary.get("error_ap")
    if not error_ap:
        return ""
    parts = ["<h2>AP gained by correcting each error</h2>\n",
             "<p>Each step corrects its kind of error on top of the steps before it (Ronchi and "
             "Perona, ICCV 2017); the number in brackets is the AP that step adds.</p>\n",
             plot(plots, "errors.png", "AP after each cumulative correction")]
    for area, steps in error_ap.items():
        parts.append(f"<h3>{text(area)} people</h3>\n" + error_table(steps))
    steps = next(iter(error_ap.values()))  # the meanings in the summary's order of steps
    meanings = "".join(f"<li><b>{text(STEP_LABELS.get(step, step))}</b>: {text(STEP_MEANINGS[step])}</li>\n"
                       for step in steps if step in STEP_MEANINGS)
    return "".join(parts) + f"<ul>\n{meanings}</ul>\n"


def error_table(steps: dict) -> str:
    names = list(steps)
    columns = {key: [steps[name].get(key) for name in names] for key in AP_KEYS}
    gains = {key: step_gains(values) for key, values in columns.items()}
    rows = [[STEP_LABELS.get(name, name)] + [step_cell(columns[key][row], gains[key][row]) for key in AP_KEYS]
            for row, name in enumerate(names)]
    return table(["step"] + [AP_TITLES[key] for key in AP_KEYS], rows)


def step_cell(value, gain) -> str:
    return format_ap(value) if gain is None else f"{format_ap(value)} ({format_gain(gain)})"


def section_keypoint_errors(summary: dict, plots: dict) -> str:
    errors = summary.get("keypoint_errors")
    if not errors:
        return ""
    totals = errors.get("totals", {})
    matched = sum(totals.values())
    parts = ["<h2>Keypoint errors</h2>\n",
             table(["outcome", "keypoints", "share"],
                   [[kind, totals.get(kind, 0), share(totals.get(kind, 0), matched)] for kind in KINDS])]
    with_errors = errors.get("detections_with")
    if with_errors:
        detections = summary.get("detections", 0)
        parts.append(table(["detections with at least one", "detections", "share of all detections"],
                           [[kind, count, share(count, detections)] for kind, count in with_errors.items()]))
    per_keypoint = errors.get("per_keypoint")
    if per_keypoint:
        per_keypoint = ordered_keypoints(summary, per_keypoint)
        shares = kind_shares(per_keypoint)
        parts.append(plot(plots, "keypoint_errors.png", "outcomes per keypoint"))
        parts.append(table(["keypoint"] + list(KINDS),
                           [[name] + [f"{100 * value:.1f}%" for value in row]
                            for name, row in zip(per_keypoint, shares)]))
    return "".join(parts)


def section_similarity(plots: dict) -> str:
    if "keypoint_similarity.png" not in plots:
        return ""
    return ("<h2>Keypoint similarity</h2>\n<p>How close each matched prediction's keypoints came to "
            "their ground truth (1 is exact), per keypoint.</p>\n"
            + plot(plots, "keypoint_similarity.png", "keypoint similarity per keypoint"))


def section_pr_curves(plots: dict) -> str:
    shown = plot(plots, "pr_curves.png", "precision and recall, all people") + plot(
        plots, "pr_curves_by_size.png", "precision and recall by size")
    return "<h2>Precision and recall</h2>\n" + shown if shown else ""


def section_background(summary: dict, plots: dict) -> str:
    background = summary.get("background")
    if not background:
        return ""
    negatives, positives = background["false_negatives"], background["false_positives"]
    by_score = positives["by_score"]
    oks = background.get("oks", 0.5)
    return (f"<h2>Background errors (OKS {oks:g})</h2>\n"
            f"<p>{text(negatives['total'])} annotated people no detection matches (false negatives), "
            f"{text(positives['total'])} detections that match nobody (false positives).</p>\n"
            + plot(plots, "background.png", "false negatives and false positives")
            + table(["false negatives by size", "people"], list(map(list, negatives["by_size"].items())))
            + table(["false negatives by visible keypoints", "people"],
                    list(map(list, negatives["by_visible_keypoints"].items())))
            + table(["false positives by score", "detections"],
                    [list(row) for row in zip(bin_labels(by_score["bins"]), by_score["counts"])]))


def section_worst_images(summary: dict) -> str:
    worst = summary.get("worst_images")
    if not worst:
        return ""
    rows = [[entry.get("image_id", ""), entry.get("file_name", ""), entry.get("missed_people", ""),
             entry.get("false_positives", ""), format_ap(entry.get("mean_oks"))] for entry in worst]
    return "<h2>Worst images</h2>\n" + table(
        ["image id", "file", "missed people", "false positives", "mean OKS"], rows)


def section_gallery(gallery: list[dict]) -> str:
    if not gallery:
        return ""
    figures = "".join(image(item["src"], item["file_name"],
                            f"<b>{text(item['file_name'])}</b> {text(item['caption'])}")
                      for item in gallery)
    return f"<h2>Gallery</h2>\n<div class=\"gallery\">\n{figures}</div>\n"
