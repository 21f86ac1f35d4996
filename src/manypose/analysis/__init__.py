"""Why a model misses: COCO keypoint evaluation made fast (evaluation.py), the error taxonomy of
Ronchi and Perona (ICCV 2017) and the AP each kind of error costs (errors.py), and the report
that shows them (report.py)."""
