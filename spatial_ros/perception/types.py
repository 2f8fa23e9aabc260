"""What perception produces and is configured with: PerceptionConfig, Detection, FrameReport."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spatial_ros.scene import OrientedBox, Support

__all__ = ["PerceptionConfig", "Detection", "FrameReport", "SEGMENTATIONS"]

#: the class-agnostic segmentations (PerceptionConfig.segmentation)
SEGMENTATIONS = ("learned", "geometric", "combined")


@dataclass(frozen=True)
class PerceptionConfig:
    """Segmentation and geometry parameters (metres unless stated)."""

    #: use every stride-th pixel in each direction (3: real frames at 43 ms, 2: at 67 ms, with
    #: the same real-frame recall; min_points, crease_width and dense_below suit 3)
    stride: int = 3
    #: frames wider than this (pixels) take a stride scaled to their width, stride x width /
    #: working_width rounded: a 1280 x 720 frame is sampled at 4, a 640 x 480 one at 3 (the
    #: grid of a larger frame then sees objects at about the angular resolution the rules and
    #: the network were made at; SpatialBench dev at 1280 x 720, 30 scenes each, combined,
    #: recall at stride 3 -> 4: hard_val 84.9 -> 88.0 %, bin_val 61.3 -> 69.5, room_val 85.2
    #: both, household_val 90.3 -> 88.6; precision higher on all four; 0 = the stride as set)
    working_width: int = 960
    min_depth: float = 0.05  #: closer readings are ignored
    max_depth: float = 12.0  #: farther readings are absurd for an RGB-D camera: ignored, counted
    min_points: int = 9  #: objects with fewer valid points are dropped (25 at stride 2)
    #: class-agnostic: a detection's image region (Detection.mask_pixels) takes the grid cells
    #: along its outline that the segmentation cut (readings off every plane, in no segment:
    #: flying pixels) and that touch no other detection, this many cells deep (0 = off). The
    #: points and boxes do not change. SpatialBench dev, 40 scenes, objects found whole (mask
    #: IoU >= 0.5) 0 -> 1: household_val 72.6 -> 84.3 %, hard_val 83.4 -> 89.7, room_val 75.6
    #: -> 81.7, bin_val 68.9 -> 73.4, val 94.0 -> 96.4 (2 cells: 84.8, 89.7, 81.1, 72.8)
    outline_cells: int = 1
    max_objects: int = 32  #: more segments than this: keep the largest, report the rest
    max_object_size: float = 1.5  #: segments larger than this (walls, furniture) are not objects
    #: the workspace: objects whose centre lies farther from the camera than this (m) are
    #: structure beyond it (a room's floor, chairs and desks behind the table), not objects;
    #: 2.5 m holds a tabletop robot's table with room to spare (every SpatialBench object is
    #: within 2.2 m of its camera); 0 = no limit (room-scale scenes)
    workspace_range: float = 2.5
    #: and, where given, a box in the world (or level) frame [xmin, xmax, ymin, ymax, zmin,
    #: zmax] that an object's centre must lie in; () = none
    workspace_box: tuple[float, ...] = ()
    #: class-agnostic, where a large support (a table, a board, a floor) was found: only
    #: what rests on a support, or stands on or lies in what does, is an object; the rest is
    #: structure (scene.resting_objects)
    resting_only: bool = True
    # class-agnostic segmentation
    #: "learned": regions from the network of perception.learned (affinities between grid
    #: cells, objectness) within the depth cuts; "geometric": the hand-set rules of
    #: perception.segmentation (depth jumps, colour splits, necks, fragment merges);
    #: "combined": the rules' regions, cut and joined where the network is sure
    #: (``combine_split``, ``combine_merge``), those the network calls structure dropped
    segmentation: str = "combined"
    segmenter_weights: str = ""  #: the learned segmenter's weights ("" = the shipped ones)
    affinity_threshold: float = 0.5  #: neighbours join where their affinity is above this
    #: combined: neighbours of one rules' region part where their affinity is under this (0 =
    #: never), neighbours of two regions join where it is over ``combine_merge`` (1 = never)
    combine_split: float = 0.2
    #: combined: a rules' region that the network's own regions (affinity over
    #: ``affinity_threshold``) part into pieces of this share of it or more, of colours
    #: further apart than ``same_chroma``, is parted so (0 = off)
    combine_parts: float = 0.1
    combine_merge: float = 1.0
    #: combined: components that the depth-step cut erases whole come back (a pen, a marker
    #: lying on the table); off by default: on the held-out real frames they found no object
    #: more and added detections (docs/benchmarks.md, sixth stop)
    thin_objects: bool = False
    #: a learned region whose mean objectness is under this is structure (a shelf's panel, a
    #: tote's wall), not an object (0 = keep every region)
    min_objectness: float = 0.5
    #: ... unless its mean objectness is at least this and its surface is level (the
    #: smallest spread of its points within 30 deg of vertical): a package lying flat, whose
    #: level top the network takes for the support under it (1 = off)
    level_objectness: float = 0.1
    #: ... or, under it, where a support lies under it and its footprint is a package's top:
    #: from ``top_min_width`` to ``top_max_width`` (m) along its own horizontal axes (a tote
    #: rim's strips are narrower; 0 = off). SpatialBench bin_val, 40 scenes: recall 82.3 ->
    #: 84.3 %, precision 91.8 -> 91.7, found whole 73.8 -> 76.1; printed bin_val 80.3 -> 81.3;
    #: the other dev splits unchanged (without the support under it, room_val's precision
    #: fell 98.2 -> 95.3 %: high shelves' and furniture's level patches)
    top_min_width: float = 0.03
    top_max_width: float = 0.4
    #: ... or, from this objectness on, where it stands on a support: its lowest points
    #: (5th percentile height) within ``stand_gap`` (m) over a support's height (or within
    #: the plane's inlier distance and two noise sigmas under it), its top over
    #: ``flat_height`` above it, its footprint a package's (``stand_min_width`` to
    #: ``top_max_width``) and its height at most ``top_max_width``: an object a camera's dull
    #: colours left unsure; a panel's or a board's edge floats or is thinner (1 = off).
    #: SpatialBench, 40 scenes, recall as rendered / under `--dull 0.6`: hard_val 91.5 ->
    #: 91.9 / 80.7 -> 87.9 %, household_val 89.2 -> 89.7 / 88.3 -> 89.2, room_val 85.0 both /
    #: 82.2 -> 82.8, val 97.6 -> 98.0 / 96.0 -> 96.8, bin_val unchanged (precision 91.5 ->
    #: 91.2); the tuning and held-out real frames unchanged (docs/benchmarks.md, twelfth stop)
    stand_objectness: float = 0.35
    #: learned and combined: a support's inlier readings ``raised_height`` (m) or more above
    #: it that the network calls object with this objectness or more stay foreground, where
    #: they make ``raised_share`` of their blob of foreground or more (detect.raised_cells: a
    #: marker lying on the table, under 2 cm high, lay mostly within ``plane_distance`` of it;
    #: 13 of household_val's 22 misses were markers, 9 of them "on a plane"; 1 = off).
    #: SpatialBench dev, 40 scenes, combined recall as rendered / window preset / dull /
    #: printed: household_val 89.7 -> 92.8 / 90.1 -> 91.9 / 89.2 -> 91.9 / 88.3 -> 91.5 %,
    #: room_val 85.0 -> 86.1 / 83.3 -> 84.4 / 82.8 -> 83.9 / 82.2 -> 84.4, hard_val 91.9 ->
    #: 92.8 / 90.1 -> 90.6 / 87.9 -> 88.3 / 88.8 -> 89.7, bin_val 84.3 -> 84.6 / 78.4 -> 78.7 /
    #: 81.6 -> 82.6 / 83.9 -> 84.6 (precision 91.2 -> 91.0, window 91.3 -> 90.5), the rest
    #: unchanged; the tuning frames unchanged. Every such reading taken back (share 0):
    #: the tuning frames' masks closer, but a can's lowest centimetre grew its fitted sphere by
    #: a tenth and a relation was lost (70 -> 69 of 76); share 0.05 kept it, 0.1 is chosen
    #: with a margin (docs/benchmarks.md, fourteenth stop)
    raised_objectness: float = 0.8
    raised_height: float = 0.004
    raised_share: float = 0.1
    stand_gap: float = 0.03
    #: ... and its footprint this wide at least (m): a standing can's visible half is 2-2.5
    #: cm deep, a wall's strip 1-1.5 cm (0.03, the package tops': dulled hard_val 87.9 ->
    #: 86.5 %, household_val 89.2 -> 88.8 %, the rest unchanged)
    stand_min_width: float = 0.02
    plane_distance: float = 0.012  #: RANSAC inlier distance
    plane_sigmas: float = 0.0  #: plus this many depth-noise sigmas at each point's range
    structure_size: float = 1.5  #: a tilted plane smaller than this (m) is an object's face...
    #: ... unless its inliers run out of the image on at least this many of its four sides (a
    #: wall seen from close by: it continues beyond the view); 0 = span alone decides
    structure_border_sides: int = 2
    #: a segment entirely below a support spanning ``support_part_span`` (m) whose top reaches
    #: it (within ``support_part_gap`` under it) is part of that support: a table's leg or
    #: apron, a shelf board's front edge; objects rest on supports, above them
    support_part_span: float = 0.4
    support_part_gap: float = 0.06
    #: a segment with 90 % of its points within ``plane_distance`` plus this many depth-noise
    #: sigmas of a wall the plane search removed (a plane not level) is a patch of that wall,
    #: not an object: a real D435's error is long waves, so a far wall's readings leave the
    #: plane's inlier distance in patches, not in scattered pixels (detect.wall_patch; 0 = off)
    wall_sigmas: float = 3.0
    #: a segment whose points' heights spread under this (m) plus two noise sigmas, spanning
    #: ``support_part_span``, is a level patch of a support (floor between table legs), not
    #: an object (detect.level_patch; 0 = off)
    flat_height: float = 0.02
    plane_min_fraction: float = 0.12  #: a plane must hold this share of the points to be removed
    #: ... except a level plane (within 5 deg) spanning ``support_part_span``: a support (a floor
    #: beyond the table, a shelf board) from this share; a box's top is level but small
    support_min_fraction: float = 0.03
    #: a level plane whose inliers ring an opening is a frame (a tote's rim), not a support:
    #: of the readings within the convex hull of its inliers' image region, more than the
    #: inliers themselves and mostly (over half) this far (m) or more under the plane
    #: (supports.rings_opening; 0 = off). What lies within a table's outline stands on it;
    #: a rim's opening shows the tote's floor and contents below it
    rim_depth: float = 0.02
    #: a horizontal plane (within 18 deg of level) tilted more than this (deg) is no support:
    #: with gravity known, a support is level; a plane tilted 5-18 deg ran through the tops of
    #: several objects and a table's front edge and took their upper halves with it. Its
    #: inliers are kept as object faces (18 = every horizontal plane a support, as before)
    support_max_tilt: float = 5.0
    max_planes: int = 3
    plane_samples: int = 3000  #: points RANSAC sees (random subset)
    plane_iterations: int = 100  #: RANSAC iterations per plane
    refit_points: int = 20000  #: a plane's least-squares refit uses about this many points
    depth_jump: float = 0.03  #: relative depth jump that separates neighbouring pixels
    edge_jump: float = 0.06  #: relative depth range in a 3x3 window that marks a depth edge
    #: (flying pixels ramp smoothly across an occlusion edge; 0 = off)
    #: with a mask: a reading with under two neighbours of its object within this relative
    #: depth is a flying pixel the mask took in, and is left out (0 = off)
    mask_flying: float = 0.06
    crease_angle: float = 40.0  #: degrees of a concave crease that separates objects (0 = off)
    crease_width: int = 1  #: cells across a crease (1 or 3; 3 suits stride 2)
    color_split_fraction: float = 0.15  #: a hue holding this share of a region splits it off
    color_split_purity: float = 0.85  #: ... where the major hues cover this share of it
    color_split_compact: float = 0.8  #: ... and each hue's largest blob holds this share of it
    #: ... a hue scattered in pieces (a print) is left out of the split where two others
    #: are blobs (a printed box on a plain box of another colour), not a reason to keep the
    #: region whole (False). Dev, 40 scenes, recall: room_val 83.3 -> 85.0 %, printed hard_val
    #: 87.0 -> 89.2, bin_val 81.3 -> 83.9, room_val 81.1 -> 82.2, household_val 87.4 -> 87.9;
    #: printed hard_val detections per object 1.103 -> 1.131; the rest and the tuning frames
    #: unchanged
    color_split_prints: bool = True
    #: ... and touching blobs stay apart only where the colour steps across their boundary: a
    #: change under this share of their colours' distance is shading or print (0 = off)
    color_split_step: float = 0.5
    #: a piece of a region split by colour that none of its major hues' blobs holds, of this
    #: many cells or more and not within one blob, is a segment of its own: a small object
    #: of a third colour (segmentation._third_colours; 0 = such pieces are dropped)
    colour_piece_cells: int = 20
    fill_enclosed: bool = True  #: plane readings enclosed by an object join it (a bowl's floor)
    fill_hull: float = 1.0  #: ... and those of its convex hull, where at most this share of it
    neck_erosion: int = 2  #: regions that erosion by this many cells splits into big pieces...
    neck_share: float = 0.12  #: ... each this share of the region, split at the neck
    same_chroma: float = 35.0  #: Lab distance of neck pieces of one object
    lightness_weight: float = 0.5  #: ... with L weighted so (shading moves L, not a*, b*)
    merge_chroma: float = 20.0  #: ... and of merged fragments (red and orange stay apart; 25
    #: cost SpatialBench object recall 1.1-1.5 points)
    merge_jump: float = 0.03  #: adjacent regions of one colour whose boundary depth jump is
    #: under this (relative) are merged (a mug's handle, a bowl's rim)
    #: objects with fewer grid points than this take their geometry from every pixel of their
    #: region (far objects: the top of a box 5 m away is a few grid rows)
    dense_below: int = 400
    #: class-agnostic boxes grow by this many sample spacings (stride / fx x range): their
    #: outermost samples lie inside each edge, by half a spacing on average and more where
    #: segmentation cut edge cells (SpatialBench larger_than errors at stride 3: 154 -> 118
    #: of 1406 with 1.0; 1.25 was best of 1.0 / 1.25 / 1.5 on the D435 split)
    #: a box's top is this many noise sigmas under its highest point (noise spreads a flat
    #: top's points up and down; the highest lies above the surface)
    top_trim: float = 1.0
    sample_pad: float = 1.25
    #: a fragment with this share of its points inside a larger detection's box, of its colour
    #: (``merge_chroma``), joins it: a bowl's floor that a concave crease cut off (0 = off)
    absorb_inside: float = 0.8
    #: ... or, a detection no larger than the other whose top lies within this (m) of the
    #: other's and with ``absorb_inside`` of its points within the other's box grown by
    #: ``absorb_reach`` (m): a mug's, cup's or bowl's inside seen over its rim, a handle (0 =
    #: off). SpatialBench dev, 40 scenes: detections per object household_val 1.32 -> 1.15,
    #: room_val 1.14 -> 1.07, bin_val 1.17 -> 1.12, no object lost
    absorb_rim: float = 0.02
    absorb_reach: float = 0.03
    #: ... and of their colour also where one is the other in shade: the darker one's colour,
    #: scaled to the other's brightness, within ``merge_chroma``, where its brightness is at
    #: least this share of the other's (a bowl's or a mug's inside is darker than its lit
    #: outside, its hue the same; 0 = off). SpatialBench dev, 40 scenes, detections per object
    #: household_val 1.156 -> 1.126, room_val 1.107 -> 1.093, bin_val 1.127 -> 1.111; printed
    #: household_val 1.333 -> 1.303; no object lost
    absorb_shade: float = 0.5
    #: ... and two of one colour that are one flat surface seen in two pieces around a nearer
    #: object lying across it (a package under another in a tote): both planar and on one
    #: plane within this (m), a third detection touching both in the image nearer the camera
    #: by as much (detect._Pairs.behind; 0 = off). SpatialBench dev, 40 scenes, detections
    #: per object bin_val 1.109 -> 1.085 (5 packages joined, none wrongly), printed hard_val
    #: 1.131 -> 1.116, room_val 1.223 -> 1.216, bin_val 1.237 -> 1.222; recall unchanged
    join_behind: float = 0.01
    #: ... and a piece with at most this share of the other's points that touches it, in
    #: the image (within two cells) and in space (within ``attach_gap``, m): a mug's handle,
    #: a bottle's cap (0 = off). SpatialBench dev, 40 scenes, detections per object
    #: household_val 1.126 -> 1.101, room_val 1.092 -> 1.085, printed household_val 1.301 ->
    #: 1.296, room_val 1.216 -> 1.203; no object lost (0.35: one lost on bin_val)
    attach_share: float = 0.2
    attach_gap: float = 0.01
    support_snap: float = 0.03  #: bottoms this close above a support plane are extended to it
    occluded_bottom_share: float = 0.5  #: share of the bottom edge hidden for a hidden bottom
    occluder_gap: float = 0.02  #: an occluder is at least this much nearer than the object
    mask_supports: bool = True  #: with a mask, find support planes in the unlabelled pixels
    #: name colours from white-balanced pixels: the frame's light along the black-body
    #: direction (a lamp's orange, the shade's blue) taken out (colors.illuminant_gains)
    white_balance: bool = True
    # shape guesses
    noise_quadratic: float = 0.0  #: expected depth noise sigma = noise_quadratic * z^2
    sphere_box_rms: float = 0.1  #: a sphere's box only where the fit's rms is under this x r
    #: a cylinder's box (the circle round its top) only where the object's footprint is this
    #: share of the circle's diameter across or more (the least side of its rectangle; an
    #: upright cylinder seen from one side shows half its disc, 0.5): a marker lying on its
    #: side shows a strip along its length, whose circle made a disc of seven times its volume
    #: (0 = always). household_val, D435 (raised_objectness off), 11 boxes changed: five markers
    #: from 5.1-7.9x the truth -> 1.0-1.2x, two cereal boxes' 3.3-3.6x -> 1.0-1.1x; two markers
    #: found in part 2.0-2.7x -> 0.4-0.5x, a cereal box 0.43 -> 0.17x, a cup 0.46 -> 0.19x;
    #: larger_than right on 775 of 922 pairs (769 before);
    #: relation accuracy household_val 96.4 -> 96.6 %, room_val 94.1 -> 94.3 (window preset
    #: 97.1, 93.9 from 96.9, 93.6), the other dev splits within 0.1; tuning frames unchanged
    cylinder_footprint: float = 0.35
    #: and where the sphere does not reach more than this (plus two depth-noise sigmas) under
    #: the support its points rest on: a ball on a table touches it, a canister with a domed
    #: lid that fits a ball does not (SpatialBench dev: 117 spheres' fitted bottoms at most
    #: 4 mm under their table, 14 other objects the classifier called spheres 1-17 cm under)
    sphere_sink: float = 0.01
    shape_classifier: bool = True  #: name shapes with the learned classifier where it ships
    seed: int = 0  #: RANSAC sampling seed (same frame, same result)


@dataclass
class Detection:
    """One object seen in one frame (world frame)."""

    points: np.ndarray  # (N, 3) world
    centroid: np.ndarray
    box: OrientedBox  # gravity-aligned amodal box
    color: str
    rgb: np.ndarray  # mean colour in [0, 1]
    shape: str
    bbox2d: tuple[int, int, int, int]
    pixels: np.ndarray  # flat indices into the full-resolution image (its surface readings)
    instance: int = 0  # mask id it came from (0 = class-agnostic)
    label: str = ""  # class name an upstream detector gave its mask id ("" = none)
    shape_features: np.ndarray | None = None  # spatial_ros.shapes.FEATURES, None if too few points
    shape_fits: bool = False  # whether its geometry supports the shape word (shapes.shape_fits)
    boxes: dict[str, OrientedBox] = field(default_factory=dict)  # amodal box per supported shape
    #: image pixels of the object that are not its surface (class-agnostic): the table seen
    #: inside its outline, e.g. a bowl's floor, and the cut cells along its outline
    #: (``outline_cells``); its image mask is ``pixels`` and these
    interior: np.ndarray | None = None

    @property
    def mask_pixels(self) -> np.ndarray:
        """Flat indices of the object's whole image region (surface and interior)."""
        return self.pixels if self.interior is None else np.concatenate([self.pixels,
                                                                         self.interior])

    @property
    def point_count(self) -> int:
        return int(len(self.points))

    @property
    def aabb(self) -> tuple[np.ndarray, np.ndarray]:
        return self.box.aabb()

    @property
    def extent(self) -> np.ndarray:
        lo, hi = self.aabb
        return hi - lo

    @property
    def volume(self) -> float:
        return self.box.volume


@dataclass
class FrameReport:
    """What happened to one frame: counts and reasons for anything dropped or degraded."""

    valid_points: int = 0
    absurd_points: int = 0
    segments: int = 0
    dropped_small: int = 0
    dropped_cap: int = 0
    beyond_workspace: int = 0  #: segments whose centre lay outside the workspace
    planes: list[tuple[np.ndarray, float]] = field(default_factory=list)  # (normal, d)
    support_heights: list[float] = field(default_factory=list)
    #: heights of the supports found in this frame whose inliers span ``support_part_span``: a
    #: table, a shelf board, a floor (a big box's top is a support too, but not one of these)
    large_supports: list[float] = field(default_factory=list)
    support_parts: int = 0  #: segments taken for a part of a large support (legs, edges)
    #: learned segmentation: regions the network called structure (mean objectness under
    #: ``min_objectness``)
    learned_structure: int = 0
    #: objects that no support held up, nor an object that one does: structure (resting_only)
    unsupported: int = 0
    #: the horizontal planes found, with their extents (ids 0: the pipeline numbers them)
    surfaces: list[Support] = field(default_factory=list)
    #: the segments left out, each as (why, its pixels: full-resolution flat indices of its
    #: grid cells, as Detection.pixels): "small", "over max_objects", "beyond the workspace",
    #: "a support's part", "a level patch", "the network's structure", "over
    #: max_object_size", "not resting" (the pipeline's resting_only); what a missed object
    #: became (spatial_ros.bench.misses)
    dropped: list[tuple[str, np.ndarray]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def workspace_box_error(box) -> str | None:
    """Why ``box`` ([xmin, xmax, ymin, ymax, zmin, zmax]; empty = none) is no workspace box,
    or None: it needs 6 numbers with each min below its max (a box with volume)."""
    box = list(box)
    if box and (len(box) != 6 or not all(lo < hi for lo, hi in zip(box[0::2], box[1::2]))):
        return (f"workspace_box {box}: needs 6 numbers [xmin, xmax, ymin, ymax, zmin, zmax] "
                "with each min below its max (a box with volume)")
    return None
