"""Training the shape classifier: its data collected from SpatialBench scenes through perception,
and the MLP fit (``spatial-ros train-shapes``)."""
from __future__ import annotations

import numpy as np

from spatial_ros.errors import SpatialRosError
from spatial_ros.perception.shapes import FEATURES, SHAPES, ShapeClassifier

__all__ = ["collect_shape_data", "train_classifier"]


def collect_shape_data(split: str, n: int, *, seed: int = 0,
                       sensors: tuple[str, ...] = ("ideal", "realsense_d435", "kinect"),
                       progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Features and true shape indices of every detected object (instance masks give the
    identity) of ``n`` scenes of a split, each under every sensor preset, at 640x480.

    The noise model perception is told is drawn at random from the presets, not always the
    true one: a node configured for a RealSense may be fed ideal or Kinect depth (and the
    features carry no absolute size or range, so larger objects further away read the same).
    """
    from tqdm import tqdm

    from spatial_ros.bench.generate import SPLITS, generate_scene
    from spatial_ros.perception.detect import detect_objects
    from spatial_ros.perception.types import PerceptionConfig
    from spatial_ros.sim.groundtruth import object_shape
    from spatial_ros.sim.render import Renderer
    from spatial_ros.sim.sensors import apply_sensor, get_sensor

    xs, ys = [], []
    for i in tqdm(range(n), desc=f"shape data {split}", unit="scene", disable=not progress):
        world, pose = generate_scene(split, seed, i, width=640, height=480)
        truth = {m.label: object_shape(m) for m in world.objects}
        renderer = Renderer(world)
        fr = renderer.render(pose)
        for k, sensor in enumerate(sensors):
            model = get_sensor(sensor)
            rng = np.random.default_rng([SPLITS[split], seed, i, k, 17])
            depth = apply_sensor(fr.depth, fr.rgb, model, rng)
            told = get_sensor(sensors[int(rng.integers(len(sensors)))]) \
                if rng.random() < 0.5 else model
            dets, _ = detect_objects(fr.rgb, depth, fr.intrinsics, pose, fr.mask,
                                     PerceptionConfig(noise_quadratic=told.sigma_quadratic,
                                                      shape_classifier=False))
            for d in dets:
                shape = truth.get(d.instance)
                if d.shape_features is not None and shape in SHAPES:
                    xs.append(d.shape_features)
                    ys.append(SHAPES.index(shape))
    return np.array(xs, float).reshape(-1, len(FEATURES)), np.array(ys, int)



def train_classifier(x: np.ndarray, y: np.ndarray, *, hidden: int = 32, epochs: int = 600,
                     seed: int = 0) -> ShapeClassifier:
    """Fit the MLP (full-batch Adam, cross-entropy) on features ``x`` and labels ``y``."""
    import torch

    if len(x) < 10 or len(set(y.tolist())) < 2:
        raise SpatialRosError(f"too little shape data to train on ({len(x)} objects)")
    torch.manual_seed(seed)
    mean, std = x.mean(0), x.std(0) + 1e-6
    xt = torch.tensor((x - mean) / std, dtype=torch.float32)
    yt = torch.tensor(y)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.Tanh(),
                              torch.nn.Linear(hidden, len(SHAPES)))
    opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=1e-4)
    for _ in range(epochs):
        loss = torch.nn.functional.cross_entropy(net(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    w1, b1 = net[0].weight.detach().numpy().T, net[0].bias.detach().numpy()
    w2, b2 = net[2].weight.detach().numpy().T, net[2].bias.detach().numpy()
    clf = ShapeClassifier(mean=mean, std=std, w1=w1, b1=b1, w2=w2, b2=b2, info={})
    clf.info = {"train_objects": int(len(x)),
                "train_accuracy": float((clf.probabilities(x).argmax(1) == y).mean())}
    return clf
