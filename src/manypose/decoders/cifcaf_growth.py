"""Steps 4 and 5 of the composite-field decoder (decoders.cifcaf, whose docstring states them),
compiled by numba: people grown from the seeds along the scored associations (a priority queue,
the reverse match, the occupancy that skips seeds), completed when asked, and their keypoints
suppressed inside better people's. In input pixels."""
import math

import numba
import numpy as np

OCCUPANCY_REDUCTION = 2      # occupancy grid: input pixels per cell
OCCUPANCY_MIN_RADIUS = 4.0   # input pixels
SUPPRESSED = 1e-5            # factor on a keypoint inside a better person's occupancy
MIN_BLEND_SCALE = 0.5        # input pixels: the least source scale when blending associations
BLEND_SECOND_MIN = 0.01      # the second-best association blends in from this score...
BLEND_SECOND_RATIO = 0.5     # ...and from this share of the best's
COMPLETION_REACH = 4.0       # completing poses: associations searched this many times as far as usually
FILLED_CONFIDENCE = 1e-5     # completing poses: a keypoint no association reaches


@numba.njit(cache=True, nogil=True)
def grow_people(seed_fields, seeds, forward, backward, starts, associations, occupancy, generation,
                rules, people):
    """Step 4 of decoders.cifcaf's docstring: fills `people` (one per seed at most, zeros) with
    confidence, x, y, scale per keypoint; returns how many it grew."""
    keypoint_count = occupancy.shape[0]
    lookup = _association_lookup(associations, keypoint_count)
    frontier = _frontier(len(associations), keypoint_count)
    count = 0
    for seed in range(len(seeds)):
        field = seed_fields[seed]
        if _occupied(occupancy, generation, field, seeds[seed, 1], seeds[seed, 2]):
            continue
        joints = people[count]
        for component in range(4):
            joints[field, component] = seeds[seed, component]
        _grow(joints, lookup, associations, forward, backward, starts, rules, frontier)
        for keypoint in range(keypoint_count):
            if joints[keypoint, 0] != 0.0:
                _occupy(occupancy, generation, keypoint, joints[keypoint, 1], joints[keypoint, 2], joints[keypoint, 3])
        count += 1
    return count


@numba.njit(cache=True, nogil=True)
def complete_people(people, forward, backward, starts, associations):
    """Give each person every keypoint (see `complete_poses` in decoders.cifcaf's docstring)."""
    keypoint_count = people.shape[1]
    lookup = _association_lookup(associations, keypoint_count)
    frontier = _frontier(len(associations), keypoint_count)
    rules = (0.0, 0.0, COMPLETION_REACH, False)
    for person in range(len(people)):
        _grow(people[person], lookup, associations, forward, backward, starts, rules, frontier)
        _grow(people[person], lookup, associations, forward, backward, starts, rules, frontier, True)


@numba.njit(cache=True)
def _frontier(association_count, keypoint_count):
    """The frontier's storage: entries (priority, source and target, joint once computed), a
    heap of them, and which pairs were queued."""
    capacity = 4 * association_count + 4
    return (np.zeros(capacity, np.float32), np.zeros((capacity, 2), np.int64), np.zeros((capacity, 4)),
            np.zeros(capacity, np.int64), np.zeros((keypoint_count, keypoint_count), np.bool_))


@numba.njit(cache=True)
def _association_lookup(associations, keypoint_count):
    """(K, K): for source, target the association index, + 1 read forwards, - 1 - index read
    backwards, 0 none; the first association of a pair wins, as OpenPifPaf looks them up."""
    lookup = np.zeros((keypoint_count, keypoint_count), np.int64)
    for index in range(len(associations) - 1, -1, -1):
        lookup[associations[index, 0], associations[index, 1]] = index + 1
        lookup[associations[index, 1], associations[index, 0]] = -1 - index
    return lookup


@numba.njit(cache=True)
def _grow(joints, lookup, associations, forward, backward, starts, rules, frontier, fill_in=False):
    """Fill a person's joints from those it has, best connection first: an entry is queued with
    its source's confidence, then requeued with its own once computed, and taken when it comes
    out on top computed. `fill_in`: an entry is taken at once, as its source's place at
    FILLED_CONFIDENCE (OpenPifPaf's flood fill)."""
    priorities, links, found, heap, queued = frontier
    queued.fill(False)
    size = entries = 0
    for keypoint in range(joints.shape[0]):
        if joints[keypoint, 0] != 0.0:
            size, entries = _queue_from(joints, keypoint, associations, queued, priorities, links, found,
                                        heap, size, entries)
    while size > 0:
        entry = heap[0]
        size = _heap_pop(heap, size, priorities)
        source, target = links[entry, 0], links[entry, 1]
        if joints[target, 0] > 0.0:
            continue
        if fill_in:
            found[entry, 0] = FILLED_CONFIDENCE
            found[entry, 1:] = joints[source, 1:]
        elif found[entry, 0] == 0.0:
            confidence, x, y, scale = _connection(joints[source], lookup[source, target], forward, backward,
                                                  starts, rules)
            if confidence > 0.0:
                priorities[entries] = confidence
                links[entries, 0], links[entries, 1] = source, target
                found[entries, 0], found[entries, 1], found[entries, 2], found[entries, 3] = confidence, x, y, scale
                size = _heap_push(heap, size, priorities, entries)
                entries += 1
            continue
        for component in range(4):
            joints[target, component] = found[entry, component]
        size, entries = _queue_from(joints, target, associations, queued, priorities, links, found,
                                    heap, size, entries)


@numba.njit(cache=True)
def _queue_from(joints, source, associations, queued, priorities, links, found, heap, size, entries):
    """Queue the connections from `source` to keypoints not yet found, each pair once."""
    for index in range(len(associations)):
        if associations[index, 0] == source:
            target = associations[index, 1]
        elif associations[index, 1] == source:
            target = associations[index, 0]
        else:
            continue
        if joints[target, 0] > 0.0 or queued[source, target]:
            continue
        queued[source, target] = True
        priorities[entries] = math.sqrt(joints[source, 0])
        links[entries, 0], links[entries, 1] = source, target
        found[entries, 0] = 0.0
        size = _heap_push(heap, size, priorities, entries)
        entries += 1
    return size, entries


@numba.njit(cache=True)
def _connection(source, association, forward, backward, starts, rules):
    """The target joint (confidence, x, y, scale) reached from `source` along `association`
    (as in `_association_lookup`), confidence 0 when refused. `rules`: the least confidence, the
    least share of the source's, how far associations are searched (in sigmas of `_blend`),
    whether the association read back must lead to the source (the reverse match)."""
    keypoint_threshold, relative_threshold, sigmas, reverse_match = rules
    index = association - 1 if association > 0 else -1 - association
    there, back = (forward, backward) if association > 0 else (backward, forward)
    side = 0 if association > 0 else 1
    rows_there = there[starts[side, index]:starts[side, index + 1]]
    rows_back = back[starts[1 - side, index]:starts[1 - side, index + 1]]
    confidence, x, y, scale = _blend(rows_there, source[1], source[2], source[3], sigmas)
    if confidence == 0.0:
        return 0.0, x, y, scale
    confidence = math.sqrt(confidence * source[0])
    if confidence < keypoint_threshold or confidence < source[0] * relative_threshold:
        return 0.0, x, y, scale
    if not reverse_match:
        return confidence, x, y, scale
    back_confidence, back_x, back_y, _ = _blend(rows_back, x, y, scale, sigmas)
    if back_confidence == 0.0 or abs(source[1] - back_x) + abs(source[2] - back_y) > source[3]:
        return 0.0, x, y, scale
    return confidence, x, y, scale


@numba.njit(cache=True)
def _blend(rows, x, y, scale, sigmas):
    """(confidence, x, y, scale) at the far end of the associations starting within `sigmas`
    sigmas of (x, y) in x and y (a sigma is half the scale): the best one weighted by a Gaussian
    of the distance, blended with the second best when that one is about as good and lands near
    it; confidence 0 when none is near."""
    scale = max(scale, MIN_BLEND_SCALE)
    reach = np.float32(sigmas * scale / 2.0)
    sigma2 = np.float32(0.25 * scale * scale)
    best = second = 0
    best_score = second_score = np.float32(0.0)
    for row in range(len(rows)):
        if abs(rows[row, 1] - x) > reach or abs(rows[row, 2] - y) > reach:
            continue
        d2 = np.float32((rows[row, 1] - x) ** 2 + (rows[row, 2] - y) ** 2)
        score = np.float32(math.exp(-0.5 * d2 / sigma2) * rows[row, 0])
        if score >= best_score:
            second, second_score = best, best_score
            best, best_score = row, score
        elif score > second_score:
            second, second_score = row, score
    if best_score == 0.0:
        return 0.0, 0.0, 0.0, 0.0
    best_x, best_y, best_scale = rows[best, 3], rows[best, 4], max(0.0, rows[best, 6])
    if second_score < BLEND_SECOND_MIN or second_score < BLEND_SECOND_RATIO * best_score:
        return 0.5 * best_score, best_x, best_y, best_scale
    second_x, second_y, second_scale = rows[second, 3], rows[second, 4], max(0.0, rows[second, 6])
    if (best_x - second_x) ** 2 + (best_y - second_y) ** 2 > best_scale ** 2 / 4.0:
        return 0.5 * best_score, best_x, best_y, best_scale
    total = best_score + second_score
    return (0.5 * total, (best_score * best_x + second_score * second_x) / total,
            (best_score * best_y + second_score * second_y) / total,
            (best_score * best_scale + second_score * second_scale) / total)


@numba.njit(cache=True)
def _heap_push(heap, size, priorities, entry):
    """Add an entry to the max-heap on priorities, as std::push_heap does (so that ties come
    out in OpenPifPaf's order)."""
    hole = size
    while hole > 0 and priorities[heap[(hole - 1) // 2]] < priorities[entry]:
        heap[hole] = heap[(hole - 1) // 2]
        hole = (hole - 1) // 2
    heap[hole] = entry
    return size + 1


@numba.njit(cache=True)
def _heap_pop(heap, size, priorities):
    """Remove the top entry as std::pop_heap does: the hole at the top sinks to a leaf along the
    larger children, and the last entry is pushed up from there."""
    last = size - 1
    entry = heap[last]
    hole = child = 0
    while child < (last - 1) // 2:
        child = 2 * child + 2
        if priorities[heap[child]] < priorities[heap[child - 1]]:
            child -= 1
        heap[hole] = heap[child]
        hole = child
    if last % 2 == 0 and child == (last - 2) // 2:
        child = 2 * child + 2
        heap[hole] = heap[child - 1]
        hole = child - 1
    _heap_push(heap, hole, priorities, entry)
    return last


@numba.njit(cache=True)
def _occupied(occupancy, generation, field, x, y):
    height, width = occupancy.shape[1:]
    col = min(max(int(x / OCCUPANCY_REDUCTION), 0), width - 1)
    row = min(max(int(y / OCCUPANCY_REDUCTION), 0), height - 1)
    return occupancy[field, row, col] == generation


@numba.njit(cache=True)
def _occupy(occupancy, generation, field, x, y, scale):
    """Mark the square of half-side `scale` (at least OCCUPANCY_MIN_RADIUS) around (x, y)."""
    height, width = occupancy.shape[1:]
    x, y = x / OCCUPANCY_REDUCTION, y / OCCUPANCY_REDUCTION
    radius = max(OCCUPANCY_MIN_RADIUS / OCCUPANCY_REDUCTION, scale / OCCUPANCY_REDUCTION)
    left = min(max(int(x - radius), 0), width - 1)
    top = min(max(int(y - radius), 0), height - 1)
    right = min(max(int(x + radius), left + 1), width)
    bottom = min(max(int(y + radius), top + 1), height)
    for row in range(top, bottom):
        for col in range(left, right):
            occupancy[field, row, col] = generation


@numba.njit(cache=True, nogil=True)
def suppress_keypoints(people, occupancy, generation):
    """Scale down each keypoint inside the occupancy of the same keypoint of an earlier person."""
    for person in range(len(people)):
        for keypoint in range(people.shape[1]):
            joint = people[person, keypoint]
            if joint[0] == 0.0:
                continue
            if _occupied(occupancy, generation, keypoint, joint[1], joint[2]):
                joint[0] *= SUPPRESSED
            else:
                _occupy(occupancy, generation, keypoint, joint[1], joint[2], joint[3])
