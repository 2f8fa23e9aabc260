"""The relation engine: one table of margins for every pair, read the same way pair by pair."""
import numpy as np

from spatial_ros.geometry import Pose
from spatial_ros.relations import Body, RelationConfig, compute_relations, pair_margins
from spatial_ros.scene import OrientedBox
from spatial_ros.vocabulary import Frame


def _bodies(n, seed=0):
    rng = np.random.default_rng(seed)
    cam = Pose(rotation=np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]]),
               translation=np.array([-0.6, 0.0, 1.0]))
    bodies = []
    for i in range(n):
        yaw = rng.uniform(0, np.pi)
        c, s = np.cos(yaw), np.sin(yaw)
        box = OrientedBox(center=rng.uniform([-0.4, -0.4, 0.75], [0.4, 0.4, 0.9]),
                          size=rng.uniform(0.03, 0.25, 3),
                          rotation=np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]))
        bodies.append(Body.from_box(10 + i, box, cam))
    # one stacked pair, so on_top_of and under hold somewhere
    top = bodies[0].box
    bodies.append(Body.from_box(99, OrientedBox(center=top.center + [0, 0, top.size[2] / 2
                                                                     + 0.03],
                                                size=[0.04, 0.04, 0.06]), cam))
    return bodies


def test_every_pair_reads_the_same_margins_as_pair_margins():
    config = RelationConfig(noise_quadratic=0.004)
    bodies = _bodies(9)
    frames = (Frame.EGOCENTRIC, Frame.ALLOCENTRIC, Frame.GRAVITY_ALIGNED)
    occlusion = {(10, 11): 0.3, (12, 10): 0.02}
    rels = compute_relations(bodies, config, frames=frames, occlusion=occlusion,
                             report_all=True)
    by_key = {(r.subject, r.predicate, r.object, r.frame): r for r in rels}
    n = len(bodies)
    assert len({(r.subject, r.object) for r in rels}) == n * (n - 1)
    for a in bodies:
        for b in bodies:
            if a.id == b.id:
                continue
            margins = pair_margins(a, b, config, frames, occlusion.get((a.id, b.id), 0.0))
            for (pred, frame), (m, scale) in margins.items():
                rel = by_key[(a.id, pred, b.id, frame)]
                expected = 1.0 / (1.0 + np.exp(-np.clip(m / scale, -50, 50)))
                assert abs(rel.confidence - np.clip(expected, 1e-3, 1 - 1e-3)) < 1e-12
                assert abs(rel.distance - np.linalg.norm(a.box.center - b.box.center)) < 1e-12
    assert by_key[(99, "on_top_of", 10, Frame.ALLOCENTRIC)].confidence > 0.5
    assert by_key[(10, "occludes", 11, Frame.EGOCENTRIC)].confidence > 0.5


def test_reported_relations_are_the_confident_ones_in_order():
    config = RelationConfig()
    bodies = _bodies(6, seed=3)
    every = compute_relations(bodies, config, report_all=True)
    kept = compute_relations(bodies, config)
    assert kept == [r for r in every if r.confidence >= config.min_confidence]
    order = [(r.subject, r.object) for r in every]
    assert order == sorted(order, key=lambda so: ([b.id for b in bodies].index(so[0]),
                                                  [b.id for b in bodies].index(so[1])))
    assert compute_relations(bodies[:1], config) == []
