#!/usr/bin/env python
"""Run the original coco-analyze (github matteorr/coco-analyze @ 9eb8a0a9, Ronchi and Perona's
keypoint error analysis) on a fixture, for tests/fixtures/analysis/coco_analyze_reference.json.
Runs in a scratch venv of its own, never in manypose's, and writes the reference JSON.

Its code is from the Python 2 era; the scratch copy needs (and only needs) these patches:
np.float -> float in cocoanalyze.py (4x) and cocoeval.py (2x); np.linspace's count made an int
in cocoeval.py (4x); `from colour import Color` in a try (plots only); `import skimage.io`
removed (unused). Its C extension (_mask.pyx) builds unchanged.

    mkdir -p $SRC && git --git-dir=<mirror of matteorr/coco-analyze> archive HEAD pycocotools setup.py | tar -x -C $SRC
    (patch as above)
    python3 -m venv /tmp/coco-analyze-venv
    /tmp/coco-analyze-venv/bin/pip install numpy cython matplotlib scipy pycocotools setuptools
    cd $SRC && /tmp/coco-analyze-venv/bin/python setup.py build_ext --inplace
    COCO_ANALYZE_SRC=$SRC COCO_ANALYZE_FIXTURE=DIR MPLBACKEND=Agg /tmp/coco-analyze-venv/bin/python coco_analyze.py

DIR holds annotations.json (the dev annotations) and results.json (yolo11n-pose's dev results,
tests/fixtures/analysis/yolo11n_dev_results.json.gz unpacked); the output is
DIR/coco_analyze_reference.json.
"""
import copy
import json
import os
import subprocess
import sys

os.environ.setdefault('MPLBACKEND', 'Agg')
SRC = os.environ.get('COCO_ANALYZE_SRC', '/tmp/coco-analyze-src')
FIX = os.environ.get('COCO_ANALYZE_FIXTURE', '/tmp/analysis-fixture')
ANN = os.path.join(FIX, 'annotations.json')
RES = os.path.join(FIX, 'results.json')
OUT = os.path.join(FIX, 'coco_analyze_reference.json')

if os.environ.get('PIP_COCOEVAL_ONLY'):
    # --- plain keypoint AP with the pip pycocotools (separate process: the bundled
    # coco-analyze package is also called "pycocotools") ---
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import pycocotools
    gt = COCO(ANN)
    dt = gt.loadRes(RES)
    E = COCOeval(gt, dt, 'keypoints')
    E.evaluate(); E.accumulate(); E.summarize()
    names = ['AP', 'AP50', 'AP75', 'AP_M', 'AP_L', 'AR', 'AR50', 'AR75', 'AR_M', 'AR_L']
    print('PIPJSON' + json.dumps({'pycocotools_file': pycocotools.__file__,
                                  **{n: float(v) for n, v in zip(names, E.stats)}}))
    sys.exit(0)

sys.path.insert(0, SRC)
import numpy as np
from pycocotools.coco import COCO              # bundled (coco-analyze's) copy
from pycocotools.cocoanalyze import COCOanalyze
import pycocotools
assert pycocotools.__file__.startswith(SRC), pycocotools.__file__

OKS = np.array([.5, .55, .6, .65, .7, .75, .8, .85, .9, .95])
ERRS = ['miss', 'swap', 'inversion', 'jitter', 'score', 'bckgd_false_pos', 'false_neg']


def load(top20=False):
    gt = COCO(ANN)
    dts = json.load(open(RES))
    if top20:   # what run_analysis.py does before loadRes
        by_img = {}
        for d in dts:
            by_img.setdefault(d['image_id'], []).append(d)
        dts = []
        for img_id in by_img:
            dts.extend(sorted(by_img[img_id], key=lambda k: -k['score'])[:20])
    dt = gt.loadRes(dts)
    return gt, dt


def set_params(ca, area=(0 ** 2, 1e5 ** 2)):
    ca.params.areaRng = [list(area)]
    ca.params.areaRngLbl = ['all']
    ca.params.maxDets = [20]
    ca.params.oksThrs = OKS.copy()


def table(stats, err):
    """per-threshold AP ('auc') and AR ('recall') for one err type, area all, maxDets 20"""
    rows = sorted([s for s in stats if s['err'] == err and s['areaRngLbl'] == 'all'
                   and s['maxDets'] == 20], key=lambda s: float(s['oks']))
    assert len(rows) == len(OKS), (err, len(rows))
    ap = {('%.2f' % float(s['oks'])): float(s['auc']) for s in rows}
    ar = {('%.2f' % float(s['oks'])): float(s['recall']) for s in rows}
    return ap, ar


def summary(ap):
    return {'mean_over_10_oks': float(np.mean(list(ap.values()))),
            'AP50': ap['0.50'], 'AP75': ap['0.75'], 'per_oks': ap}


def run_cumulative(top20=False):
    gt, dt = load(top20)
    ca = COCOanalyze(gt, dt, 'keypoints')
    set_params(ca)
    ca.analyze(check_kpts=True, check_scores=True, check_bckgd=True)
    ca.summarize(makeplots=False)
    print('\n==== coco_analyze.stats (top20_pretruncation=%s) ====' % top20)
    for s in ca.stats:
        print('err=%-16s oks=%.2f area=%s maxDets=%d AP=%.6f AR=%.6f' % (
            s['err'], float(s['oks']), s['areaRngLbl'], s['maxDets'], s['auc'], s['recall']))
    res = {'teamMaxDets': ca.params.teamMaxDets}
    b_ap, b_ar = table(ca.stats, 'baseline')
    res['baseline'] = summary(b_ap)
    res['baseline_AR'] = {'mean_over_10_oks': float(np.mean(list(b_ar.values()))), 'per_oks': b_ar}
    res['AP_after'] = {}
    res['AR_after'] = {}
    for e in ERRS:
        ap, ar = table(ca.stats, e)
        res['AP_after'][e] = summary(ap)
        res['AR_after'][e] = {'mean_over_10_oks': float(np.mean(list(ar.values()))), 'per_oks': ar}
    # keypoint error counts over all matched (analysed) detections
    counts = {k: 0 for k in ['good', 'jitter', 'inversion', 'swap', 'miss']}
    n = 0
    for cdt in ca.corrected_dts['all']:
        if 'good' not in cdt:
            continue
        n += 1
        for k in counts:
            counts[k] += int(sum(cdt[k]))
    res['keypoint_counts'] = counts
    res['num_analysed_detections'] = n
    res['num_detections_loaded'] = len(ca._dts)
    res['num_localization_matches_oks0.1'] = len(ca.localization_matches['all', str(ca.params.oksLocThrs), 'dts'])
    # background FP / FN counts per threshold (after kpt + score correction)
    res['num_bckgd_false_pos_per_oks'] = {('%.2f' % float(o)): len(ca.false_pos_dts['all', str(o)])
                                          for o in sorted(ca.params.oksThrs)}
    res['num_false_neg_gts_per_oks'] = {('%.2f' % float(o)): len(ca.false_neg_gts['all', str(o)])
                                        for o in sorted(ca.params.oksThrs)}
    res['num_false_neg_gts_nonignored_per_oks'] = {
        ('%.2f' % float(o)): len([g for g in ca.false_neg_gts['all', str(o)]
                                  if gt.anns[g]['num_keypoints'] > 0 and not gt.anns[g]['iscrowd']])
        for o in sorted(ca.params.oksThrs)}
    return res


def run_isolated(area=(0 ** 2, 1e5 ** 2)):
    """errorsAPImpact.py-style: each error type corrected ALONE (not cumulatively),
    useGtIgnore=0; false_neg is measured on top of bckgd_false_pos (as there)."""
    gt, dt = load(False)
    ca = COCOanalyze(gt, dt, 'keypoints')
    set_params(ca, area)
    ca.cocoEval.params.useGtIgnore = 0
    ca.cocoEval.params.gtIgnoreIds = []
    stats = []
    for err in ERRS:
        if err in ['miss', 'swap', 'inversion', 'jitter']:
            ca.params.err_types = [err]
            ca.analyze(check_kpts=True, check_scores=False, check_bckgd=False)
        elif err == 'score':
            ca.params.err_types = []
            ca.analyze(check_kpts=False, check_scores=True, check_bckgd=False)
        elif err == 'bckgd_false_pos':
            ca.params.err_types = []
            ca.analyze(check_kpts=False, check_scores=False, check_bckgd=True)
        else:
            continue
        ca.summarize(makeplots=False)
        stats += ca.stats
    b_ap, _ = table([s for s in stats if s['err'] == 'baseline'][:len(OKS)], 'baseline')
    out = {'area_range': list(area), 'baseline': summary(b_ap), 'AP_after': {}}
    for e in ERRS:
        ap, _ = table(stats, e)
        out['AP_after'][e] = summary(ap)
    return out


def main():
    pip = subprocess.run([sys.executable, os.path.abspath(__file__)], cwd='/tmp',
                         env=dict(os.environ, PIP_COCOEVAL_ONLY='1', PYTHONPATH=''),
                         capture_output=True, text=True, check=True)
    print(pip.stdout)
    pip_res = json.loads([l for l in pip.stdout.splitlines() if l.startswith('PIPJSON')][0][7:])

    main_res = run_cumulative(top20=False)
    top20_res = run_cumulative(top20=True)
    iso = run_isolated()
    iso_orig_all = run_isolated(area=(32 ** 2, 1e5 ** 2))

    ref = {
        'baseline_AP': main_res['baseline']['mean_over_10_oks'],
        'baseline_AP50': main_res['baseline']['AP50'],
        'baseline_AP75': main_res['baseline']['AP75'],
        'baseline_AP_per_oks': main_res['baseline']['per_oks'],
        'pip_pycocotools_COCOeval': pip_res,
        'AP_after': {e: main_res['AP_after'][e]['mean_over_10_oks'] for e in ERRS},
        'AP_after_AP50': {e: main_res['AP_after'][e]['AP50'] for e in ERRS},
        'AP_after_AP75': {e: main_res['AP_after'][e]['AP75'] for e in ERRS},
        'AP_after_per_oks': {e: main_res['AP_after'][e]['per_oks'] for e in ERRS},
        'AR_after': {e: main_res['AR_after'][e]['mean_over_10_oks'] for e in ERRS},
        'baseline_AR': main_res['baseline_AR']['mean_over_10_oks'],
        'averaging': ("coco-analyze's stats hold one entry per (err, oks threshold, area, maxDets) with "
                      "'auc' = mean of the 101-point interpolated precision (entries > -1) at that single "
                      "OKS threshold, i.e. AP@oks. AP_after[*] / baseline_AP = arithmetic mean of the 10 "
                      "per-threshold 'auc' values (.50:.05:.95), area 'all' = [0, 1e10], maxDets 20. This equals "
                      "COCO's pooled mean over TxR because every threshold has all 101 entries valid. "
                      "AP_after is CUMULATIVE in summarize(): swap = miss+swap corrected, inversion = "
                      "miss+swap+inv, jitter = all 4 kpt errors, score = all kpt + optimal score, "
                      "bckgd_false_pos = previous + background FPs ignored, false_neg = previous + FN gts ignored."),
        'keypoint_counts': main_res['keypoint_counts'],
        'keypoint_counts_info': {
            'num_analysed_detections': main_res['num_analysed_detections'],
            'num_localization_matches_oks0.1': main_res['num_localization_matches_oks0.1'],
            'num_detections_loaded': main_res['num_detections_loaded'],
            'teamMaxDets': main_res['teamMaxDets'],
            'note': ("sums of the per-detection 0/1 lists in corrected_dts['all'] over detections matched at "
                     "OKS >= 0.1 (oksLocThrs) among the top-20-scored per image to a gt with num_keypoints > 0; "
                     "only gt-visible (v>0) keypoints are classified")},
        'num_bckgd_false_pos_per_oks': main_res['num_bckgd_false_pos_per_oks'],
        'num_false_neg_gts_per_oks': main_res['num_false_neg_gts_per_oks'],
        'num_false_neg_gts_nonignored_per_oks': main_res['num_false_neg_gts_nonignored_per_oks'],
        'counts_note': ("num_bckgd_false_pos_per_oks counts ALL loaded detections (458, incl. those beyond the top-20 "
                        "per image) unmatched at that OKS after kpt+score correction; num_false_neg_gts_per_oks "
                        "includes already-ignored gts (num_keypoints==0 / crowd); the _nonignored variant excludes them"),
        'logic_notes': [
            "keypoint errors are classified ONCE, from the original detections matched at OKS>=0.1 (oksLocThrs, COCO greedy "
            "matching, top-20 by score, area range of params), and the same corrections are applied at all 10 thresholds",
            "per-keypoint ks uses each candidate person's own area; rows = matched gt, other persons, matched gt flipped "
            "L/R, other persons flipped; good: ks>0.85 & argmax=matched gt; jitter: .5<=ks<.85 & argmax=matched; "
            "inversion: ks>=.5 & argmax=matched gt flipped; swap: ks>=.5 & argmax=any other person (normal or flipped); "
            "miss: max ks<.5; only gt-visible (v>0) keypoints classified",
            "corrected keypoints are NOT put on the gt: x = gt_x + d, y = gt_y with d = sqrt(-ln(t)*2*area*sigma^2) "
            "(t = .85 jitter, .5 miss, ks_max inversion/swap). Because the code uses sigma^2 instead of (2*sigma)^2, the "
            "resulting ks is t**0.25: jitter -> 0.9602, miss -> 0.8409, inv/swap -> ks_max**0.25 (verified numerically)",
            "summarize() corrections are CUMULATIVE in order miss, swap, inversion, jitter, score, bckgd_false_pos, false_neg",
            "score correction: opt score = max OKS of the (kpt-corrected) detection with any non-ignored gt (all dets, "
            "maxDets=teamMaxDets), then greedy soft-NMS: each remaining dt score *= exp(-oks(M,dt)^2/0.5) with dt-dt OKS over "
            "all 17 kpts, area = mean of the two keypoint-extent boxes; re-evaluated with maxDets=20, so detections outside the "
            "original top-20 can enter",
            "false_neg is measured on top of ignoring background FPs and is therefore 1.0 at every threshold",
        ],
        'variant_run_analysis_top20_pretruncation': {
            'note': "run_analysis.py keeps only the top-20-scored detections per image BEFORE loadRes; "
                    "this only affects the score (soft-NMS / teamMaxDets) step and later ones",
            'baseline_AP': top20_res['baseline']['mean_over_10_oks'],
            'AP_after': {e: top20_res['AP_after'][e]['mean_over_10_oks'] for e in ERRS},
            'AP_after_AP50': {e: top20_res['AP_after'][e]['AP50'] for e in ERRS},
            'AP_after_AP75': {e: top20_res['AP_after'][e]['AP75'] for e in ERRS},
            'keypoint_counts': top20_res['keypoint_counts'],
            'teamMaxDets': top20_res['teamMaxDets']},
        'variant_errorsAPImpact_isolated': {
            'note': ("analysisAPI/errorsAPImpact.py style: each kpt error corrected ALONE (err_types=[err], "
                     "check_scores=False, check_bckgd=False); score alone (no kpt correction); bckgd_false_pos "
                     "alone (no kpt/score correction); false_neg on top of bckgd_false_pos. "
                     "area 'all' = [0, 1e10] here."),
            'baseline_AP': iso['baseline']['mean_over_10_oks'],
            'AP_after': {e: iso['AP_after'][e]['mean_over_10_oks'] for e in ERRS},
            'AP_after_AP50': {e: iso['AP_after'][e]['AP50'] for e in ERRS},
            'AP_after_AP75': {e: iso['AP_after'][e]['AP75'] for e in ERRS}},
        'variant_errorsAPImpact_isolated_its_own_all_range_32sq': {
            'note': "as above but with errorsAPImpact.py's own 'all' range [32**2, 1e5**2]",
            'baseline_AP': iso_orig_all['baseline']['mean_over_10_oks'],
            'AP_after': {e: iso_orig_all['AP_after'][e]['mean_over_10_oks'] for e in ERRS},
            'AP_after_AP50': {e: iso_orig_all['AP_after'][e]['AP50'] for e in ERRS},
            'AP_after_AP75': {e: iso_orig_all['AP_after'][e]['AP75'] for e in ERRS}},
        'source': 'github matteorr/coco-analyze @ 9eb8a0a9e57ad1e592661efc2b8964864c0e6f28 (2020-08-14), '
                  'bundled pycocotools (its own cocoeval.py / cocoanalyze.py), _mask.pyx built in place',
        'patches': [
            "pycocotools/cocoanalyze.py: 4x `astype(np.float)` -> `astype(float)` (np.float removed in numpy>=1.24)",
            "pycocotools/cocoanalyze.py: `from colour import Color` wrapped in try/except ImportError -> Color=None "
            "(only used in _plot, i.e. makeplots=True; package `colour` not installed)",
            "pycocotools/cocoanalyze.py: `import skimage.io as io` commented out (never used in that file)",
            "pycocotools/cocoeval.py: 2x `astype(dtype=np.float)` -> `astype(dtype=float)` in accumulate()",
            "pycocotools/cocoeval.py: 4x `np.linspace(a, b, np.round(x) + 1, ...)` -> `np.linspace(a, b, int(np.round(x)) + 1, ...)` "
            "in Params (float num rejected by numpy>=1.18)",
            "no change to _mask.pyx / maskApi.c; built with `python setup.py build_ext --inplace` (Cython 3, gcc)",
            "environment only: MPLBACKEND=Agg; analysisAPI/* and run_analysis.py not imported (they need colour, "
            "skimage, scipy.misc.imresize, jinja2 and the missing val2014 annotations)",
        ],
        'how': ("cd /tmp/coco-analyze-src && MPLBACKEND=Agg /tmp/coco-analyze-venv/bin/python "
                "/tmp/analysis-fixture/run_coco_analyze.py  (source: git archive of "
                "/work/.mirror/matteorr+coco-analyze/repo HEAD into /tmp/coco-analyze-src, patches in "
                "/tmp/coco-analyze-patches.diff, venv /tmp/coco-analyze-venv with numpy 2.4.6, scipy, matplotlib, "
                "Cython 3.3.1, pip pycocotools 2.0.11; `python setup.py build_ext --inplace` in /tmp/coco-analyze-src). "
                "Core calls: gt=COCO(ann); dt=gt.loadRes(res); ca=COCOanalyze(gt,dt,'keypoints'); "
                "ca.params.areaRng=[[0,1e10]]; ca.params.areaRngLbl=['all']; ca.params.maxDets=[20]; "
                "ca.params.oksThrs=np.array([.5,...,.95]); ca.analyze(True,True,True); ca.summarize(makeplots=False)"),
    }
    with open(OUT, 'w') as f:
        json.dump(ref, f, indent=1)
    print('\nwrote', OUT)
    print(json.dumps({k: ref[k] for k in ['baseline_AP', 'baseline_AP50', 'baseline_AP75', 'AP_after',
                                          'AP_after_AP50', 'AP_after_AP75', 'keypoint_counts',
                                          'keypoint_counts_info', 'pip_pycocotools_COCOeval']}, indent=1))


if __name__ == '__main__':
    main()
