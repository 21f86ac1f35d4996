"""Steps 1 to 3 of the composite-field decoder (decoders.cifcaf, whose docstring states them),
compiled by numba: the fields read into the high-resolution confidence map, the seeds and the
scored associations that people are grown from. In input pixels."""
import numba
import numpy as np

VECTORS_PER_KEYPOINT = 16    # CIF cells that predict one keypoint: each adds 1/16 to the map
SEED_MAP_WEIGHT = 0.9        # seeds: the map's share of the rescored confidence
CAF_FLOOR = 0.1              # associations: kept share of the confidence where the map is empty


@numba.njit(cache=True, nogil=True)
def accumulate(cif, stride, threshold, confidence_map, clear):
    """Step 1 of decoders.cifcaf's docstring, into `confidence_map` (zeros); `clear`: zero again what
    the same fields added."""
    for field in range(cif.shape[0]):
        for row in range(cif.shape[2]):
            for col in range(cif.shape[3]):
                confidence = cif[field, 1, row, col]
                if confidence < threshold or cif[field, 4, row, col] < 0.0:
                    continue
                sigma = max(1.0, 0.5 * cif[field, 4, row, col] * stride)
                x, y = cif[field, 2, row, col] * stride, cif[field, 3, row, col] * stride
                left, top, right, bottom = _gaussian_box(confidence_map.shape[1:], x, y, sigma)
                plane = confidence_map[field]
                if clear:
                    for pixel_row in range(top, bottom):
                        for pixel_col in range(left, right):
                            plane[pixel_row, pixel_col] = 0.0
                else:
                    _add_gaussian(plane, confidence / VECTORS_PER_KEYPOINT, x, y, sigma, left, top, right, bottom)


@numba.njit(cache=True)
def _gaussian_box(shape, x, y, sigma):
    """The pixels (left, top, right, bottom, ends excluded) of a Gaussian cut at one sigma."""
    height, width = shape
    left = min(max(int(x - sigma), 0), width - 1)
    top = min(max(int(y - sigma), 0), height - 1)
    return left, top, min(max(int(x + sigma + 1), left + 1), width), min(max(int(y + sigma + 1), top + 1), height)


@numba.njit(cache=True)
def _add_gaussian(plane, value, x, y, sigma, left, top, right, bottom):
    """Add a Gaussian cut at one sigma (the nearest pixel gets `value`), saturating at 1."""
    sigma2 = sigma * sigma
    for row in range(top, bottom):
        dy2 = (row - y) * (row - y)
        for col in range(left, right):
            dx2 = (col - x) * (col - x)
            if dx2 + dy2 > sigma2:
                continue
            added = value if (dx2 < 0.25 and dy2 < 0.25) else value * _approximate_exp(-0.5 * (dx2 + dy2) / sigma2)
            plane[row, col] = min(plane[row, col] + added, 1.0)


@numba.njit(cache=True)
def _approximate_exp(x):
    """(1 + x / 8)^8, OpenPifPaf's exp on [-2, 0] (0 below)."""
    if x < -2.0:
        return 0.0
    x = 1.0 + x / 8.0
    x *= x
    x *= x
    return x * x


@numba.njit(cache=True, nogil=True)
def scored_associations(caf, stride, confidence_map, associations, threshold):
    """Step 3 of decoders.cifcaf's docstring: forward and backward associations as rows (confidence,
    x from, y from, x to, y to, scale from, scale to) grouped by association in scan order, and
    `starts` (2, E + 1) delimiting the groups, forward then backward."""
    candidates = _count_at_least(caf, threshold)
    forward, backward = np.empty((candidates, 7)), np.empty((candidates, 7))
    starts = np.zeros((2, caf.shape[0] + 1), np.int64)
    ahead = behind = 0
    for field in range(caf.shape[0]):
        starts[0, field], starts[1, field] = ahead, behind
        first, second = associations[field, 0], associations[field, 1]
        for row in range(caf.shape[2]):
            for col in range(caf.shape[3]):
                confidence = caf[field, 1, row, col]
                if confidence < threshold:
                    continue
                x1, y1 = caf[field, 2, row, col] * stride, caf[field, 3, row, col] * stride
                x2, y2 = caf[field, 4, row, col] * stride, caf[field, 5, row, col] * stride
                scale1, scale2 = caf[field, 6, row, col] * stride, caf[field, 7, row, col] * stride
                rescored = confidence * (CAF_FLOOR + (1 - CAF_FLOOR) * _map_value(confidence_map, second, x2, y2, 0.0))
                if rescored > threshold:
                    _put_row(forward, ahead, rescored, x1, y1, x2, y2, scale1, scale2)
                    ahead += 1
                rescored = confidence * (CAF_FLOOR + (1 - CAF_FLOOR) * _map_value(confidence_map, first, x1, y1, 0.0))
                if rescored > threshold:
                    _put_row(backward, behind, rescored, x2, y2, x1, y1, scale2, scale1)
                    behind += 1
    starts[0, -1], starts[1, -1] = ahead, behind
    return forward[:ahead], backward[:behind], starts


@numba.njit(cache=True)
def _put_row(rows, index, confidence, x_from, y_from, x_to, y_to, scale_from, scale_to):
    rows[index, 0], rows[index, 1], rows[index, 2], rows[index, 3] = confidence, x_from, y_from, x_to
    rows[index, 4], rows[index, 5], rows[index, 6] = y_to, scale_from, scale_to


@numba.njit(cache=True, nogil=True)
def seed_candidates(cif, stride, confidence_map, threshold, local_maxima):
    """Step 2 of decoders.cifcaf's docstring before the sort: fields (S,) and rows (confidence, x, y,
    scale) (S, 4), in scan order."""
    candidates = _count_at_least(cif, threshold)
    fields, seeds = np.empty(candidates, np.int64), np.empty((candidates, 4))
    count = 0
    for field in range(cif.shape[0]):
        for row in range(cif.shape[2]):
            for col in range(cif.shape[3]):
                confidence = cif[field, 1, row, col]
                if confidence < threshold or (local_maxima and not _local_maximum(cif[field, 1], row, col)):
                    continue
                x, y = cif[field, 2, row, col] * stride, cif[field, 3, row, col] * stride
                rescored = (SEED_MAP_WEIGHT * _map_value(confidence_map, field, x, y, -1.0)
                            + (1 - SEED_MAP_WEIGHT) * confidence)
                if rescored < threshold:
                    continue
                fields[count] = field
                seeds[count, 0], seeds[count, 1], seeds[count, 2] = rescored, x, y
                seeds[count, 3] = cif[field, 4, row, col] * stride
                count += 1
    return fields[:count], seeds[:count]


@numba.njit(cache=True)
def _count_at_least(fields, threshold):
    """How many vectors of (F, C, H, W) fields have a confidence (component 1) of `threshold` or more."""
    count = 0
    for field in range(fields.shape[0]):
        for row in range(fields.shape[2]):
            for col in range(fields.shape[3]):
                count += fields[field, 1, row, col] >= threshold
    return count


@numba.njit(cache=True)
def _local_maximum(plane, row, col):
    """Whether no cell of the 3 x 3 neighbourhood is larger."""
    for neighbour_row in range(max(row - 1, 0), min(row + 2, plane.shape[0])):
        for neighbour_col in range(max(col - 1, 0), min(col + 2, plane.shape[1])):
            if plane[neighbour_row, neighbour_col] > plane[row, col]:
                return False
    return True


@numba.njit(cache=True)
def _map_value(confidence_map, field, x, y, outside):
    """The map at the pixel nearest to (x, y), `outside` beyond its edges."""
    height, width = confidence_map.shape[1:]
    if x < -0.49 or y < -0.49 or x > width - 0.51 or y > height - 0.51:
        return outside
    return confidence_map[field, int(y + 0.5), int(x + 0.5)]
