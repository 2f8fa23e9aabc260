"""Spatial questions in minimal English, answered from a scene graph (ROS-free).

The language is SpatialBench's templates plus common variants:

    yes/no       is the red ball in front of the blue box?
                 in the world frame, is the red box left of the blue box?
    which        what is left of the green cylinder?   which objects are on the table box?
    metric       how far is the red ball from the blue box?
    closer       which is closer to the camera, the red box or the blue box?
    superlative  which object is closest to the camera?   what is the largest box?
    multi-hop    what is on top of the object left of the blue box?
    counting     how many objects are there?   how many objects are on the table?
                 how many red objects are left of the bowl?

Objects are referred to by colour (with synonyms: teal, turquoise = cyan; violet, magenta =
purple; gray, silver = grey), shape ("box", "cube", "ball", "sphere", "cylinder", ...), a label
an upstream detector gave ("the mug"), size words ("largest", "small") and id ("object 3",
"id 3"). A noun that is neither a shape nor any object's label ("the purple cup") falls back on
the colour alone, and the answer says so. References are optionally followed by a relative
clause ("the box left of the red ball"). A reference must pick exactly one object: ambiguity is
answered, not guessed ("2 objects match 'the box': red box (id 3), blue box (id 5)").

A relative clause never refers back to an object it names: "the object above the object in
front of the yellow cylinder" is not the yellow cylinder itself, which the speaker would have
named (SpatialBench's chains are built the same way). The objects a whole question is about
may still be its answer: "what is left of the object below the orange sphere?" may be the
orange sphere.

A definite reference presupposes its object. When no object meets a relative clause with
``min_confidence`` but exactly one comes close (confidence at least ``ACCOMMODATE`` from the
project's relation engine on the graph's boxes, seen from ``camera_pose``), that one is meant:
"the object above the yellow box" is the one object nearly above it, not nothing. Two such
objects are ambiguous, and said so. Without a camera pose there is no such fallback.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from spatial_ros.colors import PALETTE
from spatial_ros.errors import SpatialRosError
from spatial_ros.geometry import Pose
from spatial_ros.query import Q, _frame_for, distances, relation_confidence
from spatial_ros.relations import Body, RelationConfig, pair_margins, sigmoid, viewer_relation
from spatial_ros.scene import (
    FLOOR_DROP,
    GENERIC_LABELS,
    RESTING_GAP,
    SceneGraph,
    SceneObject,
    Support,
    main_surface,
    size_class,
)
from spatial_ros.vocabulary import Frame

__all__ = ["Answer", "QuestionError", "answer_question", "parse_predicate", "resolve",
           "MAX_QUESTION_LENGTH", "PREDICATE_PHRASES", "support_word", "named_support"]

MAX_QUESTION_LENGTH = 300
#: a relative clause no object meets is taken to mean the one object at least this likely
ACCOMMODATE = 0.3

#: phrase -> predicate; longer phrases are tried first
PREDICATE_PHRASES: dict[str, str] = {
    "to the left of": "left_of", "left of": "left_of", "to the right of": "right_of",
    "right of": "right_of", "above": "above", "over": "above", "below": "below",
    "in front of": "in_front_of", "behind": "behind", "near": "near", "next to": "near",
    "close to": "near", "far from": "far_from", "on top of": "on_top_of", "on": "on_top_of",
    "under": "under", "underneath": "under", "beneath": "under", "inside": "inside",
    "in": "inside", "containing": "contains", "hiding": "occludes", "occluding": "occludes",
    "larger than": "larger_than", "bigger than": "larger_than", "smaller than": "smaller_than",
}
_PHRASES = sorted(PREDICATE_PHRASES, key=len, reverse=True)
SHAPES: dict[str, str | None] = {
    "box": "box", "boxes": "box", "cube": "box", "cubes": "box", "block": "box", "bar": "box",
    "ball": "sphere", "balls": "sphere", "sphere": "sphere", "spheres": "sphere",
    "cylinder": "cylinder", "cylinders": "cylinder", "can": "cylinder", "bin": "bin",
    "object": None, "objects": None, "thing": None, "things": None, "one": None,
}
#: superlatives: the largest or smallest of the objects a reference could mean
SIZE_WORDS = {"largest": -1, "biggest": -1, "smallest": 1}
#: size adjectives -> the size class (spatial_ros.scene.size_class) objects are described by
SIZE_ADJECTIVES = {"large": "large", "big": "large", "small": "small", "little": "small",
                   "tiny": "small", "medium": "medium-sized", "medium-sized": "medium-sized",
                   "mid-sized": "medium-sized"}
#: colour words a person uses -> the palette's name
COLOUR_SYNONYMS = {"gray": "grey", "silver": "grey", "teal": "cyan", "turquoise": "cyan",
                   "violet": "purple", "magenta": "purple"}
COLOURS = set(PALETTE) | set(COLOUR_SYNONYMS)
#: words that end a noun phrase rather than name a thing
_NOT_NOUNS = {"that", "which", "is", "are", "and", "or", "there"}
#: what a person calls the support most objects rest on ("on the table"; scene.main_surface)
SURFACE_WORDS = ("table", "shelf", "desk", "counter", "surface", "tray")
_SUPPORT_NOUNS = "(floor|" + "|".join(SURFACE_WORDS) + ")"
_ON_SUPPORT = re.compile(r"on the " + _SUPPORT_NOUNS)
_SUPPORT = re.compile(r"(?:the )?" + _SUPPORT_NOUNS)


class QuestionError(SpatialRosError):
    """A question that cannot be answered; the message says why."""


@dataclass
class Answer:
    text: str
    confidence: float = 1.0
    object_ids: list[int] = field(default_factory=list)
    is_yes_no: bool = False
    yes: bool = False
    kind: str = ""
    #: the answer is a place: the world pose (graph frame) of the object asked about
    pose: Pose | None = None


@dataclass
class _Ref:
    text: str
    color: str | None = None
    shape: str | None = None
    object_id: int | None = None
    size: int = 0  # -1 largest, 1 smallest
    size_class: str | None = None  # "small", "medium-sized", "large"
    relation: tuple[str, _Ref] | None = None
    noun: str | None = None  # a noun that is no shape word: a label, or the colour alone
    note: str = ""  # set on resolving: how a noun was read


def _normalise(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("empty question")
    if len(question) > MAX_QUESTION_LENGTH:
        raise QuestionError(f"question is {len(question)} characters; the limit is "
                            f"{MAX_QUESTION_LENGTH}")
    q = question.lower().strip().rstrip("?.! ").replace(",", " ,")
    return re.sub(r"\s+", " ", q)


def parse_predicate(text: str) -> tuple[str, str] | None:
    """(predicate, rest) if ``text`` starts with a predicate phrase."""
    for phrase in _PHRASES:
        if text == phrase or text.startswith(phrase + " "):
            return PREDICATE_PHRASES[phrase], text[len(phrase):].strip()
    return None


def _parse_ref(text: str) -> _Ref:
    """A referring expression: [the] [size] [colour] [shape] [that is] [predicate reference]."""
    words = text.split()
    if not words:
        raise QuestionError("an object is missing from the question")
    ref = _Ref(text=text)
    i = 1 if words[0] in ("the", "a", "an") else 0
    named = False
    if i + 1 < len(words) and words[i] in ("object", "id") and words[i + 1].isdigit():
        ref.object_id = int(words[i + 1])
        i, named = i + 2, True
    else:
        if i < len(words) and words[i] in SIZE_WORDS:
            ref.size, i, named = SIZE_WORDS[words[i]], i + 1, True
        elif i < len(words) and words[i] in SIZE_ADJECTIVES:
            ref.size_class, i, named = SIZE_ADJECTIVES[words[i]], i + 1, True
        if i < len(words) and words[i] in COLOURS:
            ref.color = COLOUR_SYNONYMS.get(words[i], words[i])
            i, named = i + 1, True
        elif i < len(words) and i + 1 < len(words) and words[i + 1] in SHAPES \
                and words[i] not in SHAPES:
            raise QuestionError(f"unknown colour {words[i]!r} in {text!r}")
        if i < len(words) and words[i] in SHAPES:
            ref.shape, i, named = SHAPES[words[i]], i + 1, True
        else:  # "the mug", "the purple cup", "the mustard bottle"
            j = i
            while (j < len(words) and j - i < 3 and words[j].isalpha()
                   and words[j] not in _NOT_NOUNS and words[j] not in SHAPES
                   and parse_predicate(" ".join(words[j:])) is None):
                j += 1
            if j > i and (j == len(words) or parse_predicate(" ".join(words[j:]))
                          or words[j] == "that"):
                ref.noun, i, named = " ".join(words[i:j]), j, True
    if not named:
        raise QuestionError(f"cannot tell which object {text!r} means")
    rest = " ".join(words[i:])
    if rest.startswith("that is "):
        rest = rest[len("that is "):]
    if rest:
        pred = parse_predicate(rest)
        if pred is None or not pred[1]:
            raise QuestionError(f"cannot understand {rest!r} in {text!r}")
        ref.relation = (pred[0], _parse_ref(pred[1]))
    return ref


#: achromatic colours a shaded or lit surface may be read as instead
_SHADES = {"grey": ("black", "white"), "black": ("grey",), "white": ("grey",)}


def _nearly(graph: SceneGraph, ids: list[int], pred: str, target: SceneObject, frame: Frame,
            camera: Pose) -> list[int]:
    """Those of ``ids`` that stand in ``pred`` to ``target`` with at least ``ACCOMMODATE``
    confidence, by the relation engine on the graph's boxes."""
    f = _frame_for(pred, frame)
    if pred == "occludes":  # needs the image, not boxes
        return []
    config = RelationConfig()
    tb = Body.from_box(target.id, target.box, camera)
    out = []
    for i in ids:
        m, scale = pair_margins(Body.from_box(i, graph.object(i).box, camera), tb, config,
                                (f,))[(pred, f)]
        if sigmoid(m / scale) >= ACCOMMODATE:
            out.append(i)
    return out


def _candidates(graph: SceneGraph, ref: _Ref, frame: Frame, camera: Pose | None = None
                ) -> tuple[list[int], set[int]]:
    """The objects ``ref`` may mean, and the objects its relative clauses name (the chain)."""
    if ref.color is not None and ref.color not in PALETTE:
        raise QuestionError(f"unknown colour {ref.color!r}")
    ids = [o.id for o in graph.objects
           if (ref.object_id is None or o.id == ref.object_id)
           and (ref.color is None or o.color == ref.color)
           and (ref.shape is None or o.label == ref.shape)]
    if ref.noun is not None:
        labels = {o.label for o in graph.objects}
        labelled = [i for i in ids if _names_label(ref.noun, graph.object(i).label)]
        if labelled or (ref.color is None and any(_names_label(ref.noun, lab)
                                                  for lab in labels)):
            ids = labelled  # a detector's label ("the mug", "the bottle": "mustard bottle")
        elif ref.color is not None:
            ref.note = (f"no {ref.color} object is labelled {ref.noun!r}: went by the colour "
                        f"alone ({ref.color})")
        else:
            raise QuestionError(f"cannot understand {ref.noun!r} in {ref.text!r}: no object "
                                f"is labelled so (labels seen: {', '.join(sorted(labels))})")
    if not ids and ref.shape is not None and ref.color is not None:
        # shape guesses from noisy points are the least certain attribute: "the red box" still
        # means the red object whose shape could not be read, or the only red object
        same_colour = [o for o in graph.objects if o.color == ref.color
                       and (ref.object_id is None or o.id == ref.object_id)]
        unread = [o.id for o in same_colour if o.label in GENERIC_LABELS]
        if len(unread) == 1:
            ids = unread
        elif len(same_colour) == 1:
            ids = [same_colour[0].id]
    if not ids and ref.color in _SHADES:
        # achromatic names depend on lighting: a shaded grey box reads as black
        ids = [o.id for o in graph.objects if o.color in _SHADES[ref.color]
               and (ref.object_id is None or o.id == ref.object_id)
               and (ref.shape is None or o.label == ref.shape)]
        if len(ids) > 1:
            ids = []
    named: set[int] = set()
    if ref.relation is not None:
        pred, inner = ref.relation
        target, named = _resolve(graph, inner, frame, camera)
        named = named | {target.id}
        pool = [i for i in ids if i not in named]
        ids = Q.ids(*pool, frame=frame).that(pred, Q.ids(target.id)).evaluate(graph)
        if not ids and camera is not None:
            ids = _nearly(graph, pool, pred, target, frame, camera)  # several: ambiguous
    if ref.size_class is not None and len(ids) > 1:
        # "the small red object": the one of its size class
        ids = [i for i in ids if size_class(graph.object(i).box) == ref.size_class] or ids
    # a superlative, and a person's "small" and "large" too, where several (or none) are of
    # that class: the smallest / largest
    order = ref.size or {"small": 1, "large": -1}.get(ref.size_class, 0)
    if order and len(ids) > 1:
        vol = {i: graph.object(i).box.volume for i in ids}
        ids = [min(ids, key=lambda i: order * vol[i])]
    return ids, named


def _resolve(graph: SceneGraph, ref: _Ref, frame: Frame, camera: Pose | None = None
             ) -> tuple[SceneObject, set[int]]:
    ids, named = _candidates(graph, ref, frame, camera)
    if not ids:
        if ref.color is not None and not any(o.color == ref.color for o in graph.objects):
            raise QuestionError(f"no object is {ref.color} ({ref.text!r}); the colours seen "
                                f"are: {_colours_seen(graph)}")
        seen = ", ".join(o.description for o in graph.objects) or "nothing"
        raise QuestionError(f"no object matches {ref.text!r} (the scene has: {seen})")
    if len(ids) > 1:
        raise QuestionError(f"{len(ids)} objects match {ref.text!r}: "
                            + ", ".join(graph.object(i).description for i in ids))
    return graph.object(ids[0]), named


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") \
        else word


def _names_label(noun: str, label: str) -> bool:
    """Whether ``noun`` names an object labelled ``label``: the whole label or its head noun
    ("bottle" names a "mustard bottle"), plurals as singulars."""
    noun, label = _singular(noun), _singular(label)
    return noun == label or (" " not in noun and noun == label.rsplit(" ", 1)[-1])


def _colours_seen(graph: SceneGraph) -> str:
    return ", ".join(sorted({o.color for o in graph.objects})) or "none (the graph is empty)"


def _notes(ref: _Ref) -> list[str]:
    """How the nouns of a reference and its relative clauses were read."""
    out = [ref.note] if ref.note else []
    return out + (_notes(ref.relation[1]) if ref.relation is not None else [])


def _table_height(graph: SceneGraph) -> float:
    """For graphs without supports (older producers and bags): the support height most
    objects stand on (ties: the higher). Where the surfaces seen lie ``FLOOR_DROP`` or more
    apart, the lowest is the floor and no table."""
    if not graph.support_heights:
        raise QuestionError("no table is known: the scene graph carries no support surface")
    heights = sorted(graph.support_heights)
    tables = [h for h in heights if h - heights[0] >= FLOOR_DROP] or heights
    bottoms = [o.box.aabb()[0][2] for o in graph.objects]
    return max(tables, key=lambda h: (sum(abs(b - h) < RESTING_GAP for b in bottoms), h))


def support_word(phrase: str) -> str | None:
    """The support a phrase names: "the table" -> "table", "floor" -> "floor"; None for
    anything else (an object)."""
    m = _SUPPORT.fullmatch(_normalise(phrase))
    return m.group(1) if m else None


def named_support(graph: SceneGraph, word: str) -> Support:
    """The support ``word`` names in ``graph.supports``: the floor is the support named so
    (else the lowest); a table, shelf, desk, ... the one most objects rest on
    (``scene.main_surface``). QuestionError when there is none."""
    if not graph.supports:
        raise QuestionError(f"no {word} is known: the scene graph carries no support surface")
    if word == "floor":
        floors = [x for x in graph.supports if x.kind == Support.KIND_FLOOR]
        return floors[0] if floors else min(graph.supports, key=lambda x: x.height)
    sup = main_surface(graph)
    if sup is None:
        raise QuestionError(f"no {word} is known: the only support seen is the floor")
    return sup


def _on_support(graph: SceneGraph, word: str, frame: Frame, min_confidence: float
                ) -> list[int]:
    """The objects "on the <word>": those resting on that support (their ``support_id``,
    ``named_support``), and those stacked on them, however high. A graph without supports
    (older producers) is read by support height alone."""
    if graph.supports:
        sup = named_support(graph, word)
        on = {o.id for o in graph.objects if o.support_id == sup.id}
    else:
        if word == "floor":
            if not graph.support_heights:
                raise QuestionError("no floor is known: the scene graph carries no support "
                                    "surface")
            h = min(graph.support_heights)
        else:
            h = _table_height(graph)
        on = {o.id for o in graph.objects if abs(o.box.aabb()[0][2] - h) < RESTING_GAP}
    while on:  # what stands on them, and on that, ...
        more = set(Q.all(frame=frame, min_confidence=min_confidence).that(
            "on_top_of", Q.ids(*on)).evaluate(graph)) - on
        if not more:
            break
        on |= more
    return sorted(on)


def _count(graph: SceneGraph, what: str, where: str, frame: Frame, min_confidence: float,
           res) -> Answer:
    """'how many <what> are <where>': there, in the scene, on the table, or <predicate> <ref>."""
    ref = _parse_ref(f"the {what}")
    if ref.relation is not None or ref.object_id is not None or ref.size:
        raise QuestionError(f"cannot count {what!r}: name a kind of object (e.g. 'red objects')")
    size, ref.size_class = ref.size_class, None  # counted by class, not picked among them
    notes: list[str] = []
    if ref.color is not None and not any(o.color == ref.color for o in graph.objects):
        notes.append(f"no object is {ref.color}; the colours seen are: {_colours_seen(graph)}")
        ids: list[int] = []
    elif not graph.objects:
        ids = []
    else:
        ids, _named = _candidates(graph, ref, frame)
        notes += _notes(ref)
        if size is not None:
            ids = [i for i in ids if size_class(graph.object(i).box) == size]
    if not ids or where in ("there", "in the scene", "in view", "here", ""):
        pass  # none of them at all: none of them anywhere
    elif sm := _ON_SUPPORT.fullmatch(where):
        on = set(_on_support(graph, sm.group(1), frame, min_confidence))
        ids = [i for i in ids if i in on]
    else:
        pred = parse_predicate(where)
        if pred is None or not pred[1]:
            raise QuestionError(f"cannot understand {where!r} in a counting question")
        b = res(pred[1])
        ids = Q.ids(*[i for i in ids if i != b.id], frame=frame,
                    min_confidence=min_confidence).that(pred[0], Q.ids(b.id)).evaluate(graph)
    text = str(len(ids)) + (f" ({_names(graph, ids)})" if ids else "")
    if notes:
        text += "; " + "; ".join(notes)
    return Answer(text=text, object_ids=ids, kind="count")


def resolve(graph: SceneGraph, ref: _Ref | str, frame: Frame = Frame.EGOCENTRIC, *,
            camera: Pose | None = None) -> SceneObject:
    """The one object a reference means, or a QuestionError that says why not."""
    if isinstance(ref, str):
        ref = _parse_ref(_normalise(ref))
    return _resolve(graph, ref, frame, camera)[0]


def _split_binary(body: str) -> tuple[_Ref, str, _Ref]:
    """'<ref> <predicate> <ref>', trying the rightmost predicate phrase first."""
    words = body.split()
    errors = []
    for k in range(len(words) - 1, 0, -1):
        rest = " ".join(words[k:])
        pred = parse_predicate(rest)
        if pred is None or not pred[1]:
            continue
        try:
            return _parse_ref(" ".join(words[:k])), pred[0], _parse_ref(pred[1])
        except QuestionError as exc:
            errors.append(str(exc))
    raise QuestionError(errors[0] if errors else f"no spatial relation found in {body!r}")


def _names(graph: SceneGraph, ids: list[int]) -> str:
    return ", ".join(graph.object(i).description for i in ids) or "nothing"


def answer_question(graph: SceneGraph | None, question: str, *,
                    viewpoint: np.ndarray | None = None, min_confidence: float = 0.5,
                    camera_pose: Pose | None = None) -> Answer:
    """Answer ``question`` from ``graph``; raise QuestionError with the reason if it cannot be.

    Args:
        viewpoint: the camera position (world), for "closest to the camera".
        camera_pose: the camera's world pose: its position is the viewpoint, and relative
            clauses no object meets fall back on the one object that nearly does (see above).
            None: the pose the graph carries, if any.
    """
    if camera_pose is None and graph is not None:
        camera_pose = graph.camera_pose
    notes: list[str] = []
    ans = _answer(graph, question, viewpoint, min_confidence, camera_pose, notes)
    for note in dict.fromkeys(notes):  # said once each, in order
        ans.text += f" ({note})"
    return ans


def _answer(graph: SceneGraph | None, question: str, viewpoint: np.ndarray | None,
            min_confidence: float, camera_pose: Pose | None, notes: list[str]) -> Answer:
    q = _normalise(question)
    if graph is None:
        raise QuestionError("no scene graph has arrived yet")
    if camera_pose is not None and viewpoint is None:
        viewpoint = camera_pose.translation
    frame = Frame.EGOCENTRIC
    for prefix, f in (("in the world frame ,", Frame.ALLOCENTRIC),
                      ("from the camera ,", Frame.EGOCENTRIC),
                      ("in the world frame", Frame.ALLOCENTRIC),
                      ("from the camera", Frame.EGOCENTRIC)):
        if q.startswith(prefix + " "):
            q, frame = q[len(prefix):].strip(), f
            break
    q = q.replace(" ,", ",")

    def res(ref: _Ref | str) -> SceneObject:
        if isinstance(ref, str):
            ref = _parse_ref(ref)
        obj = resolve(graph, ref, frame, camera=camera_pose)
        notes.extend(_notes(ref))
        return obj

    m = re.fullmatch(r"how many (.+?)(?: (?:are|is) (.+))?", q)
    if m:
        return _count(graph, m.group(1), m.group(2) or "", frame, min_confidence, res)

    m = re.fullmatch(r"standing at (.+?) and facing (.+?), (?:is|are) (.+)", q)
    if m:  # another object's point of view: a viewer at one object looking at another
        viewer, facing = res(m.group(1)), res(m.group(2))
        a_ref, pred, b_ref = _split_binary(m.group(3))
        a, b = res(a_ref), res(b_ref)
        if b.id != facing.id:
            raise QuestionError("from another object's point of view, the relation must be to "
                                "the object faced")
        if pred not in ("left_of", "right_of"):
            raise QuestionError(f"from another object's point of view only left of / right of "
                                f"are defined, not {pred!r}")
        yes = viewer_relation(viewer, a, b, pred)
        return Answer(text="yes" if yes else "no", object_ids=[viewer.id, a.id, b.id],
                      is_yes_no=True, yes=yes, kind="yes_no_viewer")
    m = re.fullmatch(r"(?:is|are) (.+)", q)
    if m and not q.startswith("is there"):
        a_ref, pred, b_ref = _split_binary(m.group(1))
        a, b = res(a_ref), res(b_ref)
        conf = relation_confidence(graph, a.id, pred, b.id, frame)
        yes = conf >= min_confidence
        return Answer(text="yes" if yes else "no", confidence=conf if yes else 1 - conf,
                      object_ids=[a.id, b.id], is_yes_no=True, yes=yes, kind="yes_no")
    m = re.fullmatch(r"where (?:is|are) (.+)", q)
    if m:  # a place: the object's box pose in the graph's frame
        a = res(m.group(1))
        x, y, z = (float(v) for v in a.box.center)
        return Answer(text=f"at x {x:.2f}, y {y:.2f}, z {z:.2f} m", object_ids=[a.id],
                      kind="place", pose=Pose(rotation=a.box.rotation.copy(),
                                              translation=a.box.center.copy()))
    m = re.fullmatch(r"how far (?:is|are) (.+?) (?:from|to) (.+)", q) or \
        re.fullmatch(r"how far apart are (.+?) and (.+)", q)
    if m:
        a = res(m.group(1))
        if m.group(2) in ("the camera", "camera", "me", "the robot"):
            if viewpoint is None:
                raise QuestionError("the camera position is not known yet")
            d = float(np.linalg.norm(a.centroid - viewpoint))
            return Answer(text=f"{d:.2f} m", object_ids=[a.id], kind="metric")
        b = res(m.group(2))
        centre, surface = distances(a, b)
        return Answer(text=f"{centre:.2f} m", object_ids=[a.id, b.id], kind="metric",
                      confidence=1.0 if surface >= 0 else 0.0)
    m = re.fullmatch(r"which (?:one |object )?is (closer|nearer|farther|further) to the camera, "
                     r"(.+?) or (.+)", q)
    if m:
        if viewpoint is None:
            raise QuestionError("the camera position is not known yet")
        a, b = res(m.group(2)), res(m.group(3))
        da, db = (float(np.linalg.norm(o.centroid - viewpoint)) for o in (a, b))
        pick = a if (da < db) == (m.group(1) in ("closer", "nearer")) else b
        return Answer(text=pick.name, object_ids=[pick.id],
                      confidence=min(1.0, 0.5 + abs(da - db) / 0.05), kind="closer")
    m = re.fullmatch(r"(?:which|what) (\w+ )?is (closest|nearest|farthest|furthest) "
                     r"(?:to|from) the camera", q)
    if m:
        if viewpoint is None:
            raise QuestionError("the camera position is not known yet")
        shape = SHAPES.get((m.group(1) or "object").strip(), None)
        pool = [o for o in graph.objects if shape is None or o.label == shape]
        if not pool:
            raise QuestionError(f"no {m.group(1).strip()} in the scene")
        ranked = sorted(pool, key=lambda o: float(np.linalg.norm(o.centroid - viewpoint)))
        pick = ranked[0] if m.group(2) in ("closest", "nearest") else ranked[-1]
        return Answer(text=pick.description, object_ids=[pick.id], kind="superlative")
    m = re.fullmatch(r"(?:which|what) (?:object )?is the (largest|biggest|smallest) ?(\w+)?", q) \
        or re.fullmatch(r"(?:which|what) (?:is|are) the (largest|biggest|smallest) (\w+)", q)
    if m:
        ref = _parse_ref(f"the {m.group(1)} {m.group(2) or 'object'}")
        pick = res(ref)
        return Answer(text=pick.description, object_ids=[pick.id], kind="superlative")
    m = re.fullmatch(r"(?:what|which objects?|which things?|what objects?) (?:is|are) (.+)", q)
    if m and (sm := _ON_SUPPORT.fullmatch(m.group(1))):  # a support: "what is on the table?"
        ids = _on_support(graph, sm.group(1), frame, min_confidence)
        return Answer(text=_names(graph, ids), object_ids=ids, kind="which")
    if m:
        pred = parse_predicate(m.group(1))
        if pred is None or not pred[1]:
            raise QuestionError(f"no spatial relation found in {question!r}")
        b = res(pred[1])
        ids = Q.all(frame=frame, min_confidence=min_confidence).that(
            pred[0], Q.ids(b.id)).excluding(Q.ids(b.id)).evaluate(graph)
        confs = [relation_confidence(graph, i, pred[0], b.id, frame) for i in ids]
        return Answer(text=_names(graph, ids), object_ids=ids,
                      confidence=float(min(confs)) if confs else 1.0, kind="which")
    raise QuestionError(f"cannot parse {question.strip()!r}; ask e.g. 'is the red box left of "
                        "the blue box?' or 'what is on top of the blue box?'")
