"""`spatial-ros bench latency`: time per stage and end to end for 640x480 frames, 8 objects.

Offline: pre-rendered frames of an 8-object SpatialBench scene (camera drifting, realsense_d435
noise) go through message decode -> perception -> tracking -> relations -> message encode, as
scene_graph_node runs them; p50/p95 per stage, and resident memory at the start and the end.
Live (``--live S``): a player node publishes the same frames at 30 Hz over DDS for S seconds,
scene_graph_node processes them, a subscriber measures the output rate and each output's age
(receive time - frame stamp) in the first and the last third of the run (a growing queue shows
as a growing age).
"""
from __future__ import annotations

import math
import subprocess
import sys
import threading
import time

import numpy as np
import psutil

from spatial_ros.bench.generate import generate_scene
from spatial_ros.bench.relations import drift
from spatial_ros.pipeline import SceneGraphBuilder
from spatial_ros.relations import RelationConfig
from spatial_ros.ros import conversions as conv
from spatial_ros.sim.render import Renderer
from spatial_ros.sim.sensors import PRESETS, apply_sensor

__all__ = ["run", "eight_object_frames"]


def eight_object_frames(n: int = 10, *, objects: int = 8, width: int = 640, height: int = 480):
    """``n`` frames (rgb, depth, mask, intrinsics, pose) of the first test scene with 8 objects."""
    for i in range(1000):  # the first test scene with ``objects`` objects, all in view
        world, pose0 = generate_scene("test", 0, i, width=width, height=height)
        if len(world.objects) != objects:
            continue
        renderer = Renderer(world)
        counts = np.bincount(renderer.render(pose0).mask.ravel(), minlength=256)
        if np.count_nonzero(counts[1:] >= 500) == objects:
            break
    out = []
    for k in range(n):
        pose = drift(pose0, k, 0.004)
        fr = renderer.render(pose)
        depth = apply_sensor(fr.depth, fr.rgb, "realsense_d435", np.random.default_rng(k))
        out.append((fr.rgb, depth, fr.mask, fr.intrinsics, pose))
    return world, out


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def offline(frames: int, use_mask: bool) -> dict[str, list[float]]:
    _world, data = eight_object_frames()
    noise = PRESETS["realsense_d435"].sigma_quadratic
    builder = SceneGraphBuilder(relations=RelationConfig(noise_quadratic=noise))
    msgs = [(conv.numpy_to_image(rgb, "rgb8"), conv.depth_to_image(depth, "16UC1"),
             conv.numpy_to_image(mask, "mono8"), intr, pose)
            for rgb, depth, mask, intr, pose in data]
    stages: dict[str, list[float]] = {k: [] for k in (
        "decode", "perception", "tracking", "relations", "encode", "end_to_end")}
    rss0 = None
    from tqdm import tqdm

    for k in tqdm(range(frames), desc="latency", unit="frame", mininterval=1.0):
        cmsg, dmsg, mmsg, intr, pose = msgs[k % len(msgs)]
        t0 = time.perf_counter()
        rgb, depth = conv.image_to_rgb(cmsg), conv.image_to_depth(dmsg)
        mask = conv.image_to_numpy(mmsg) if use_mask else None
        t1 = time.perf_counter()
        res = builder.process(rgb, depth, intr, pose, stamp=k / 30.0, mask=mask)
        t2 = time.perf_counter()
        conv.scene_graph_to_msg(res.graph)
        t3 = time.perf_counter()
        if k == 20:
            rss0 = _rss_mb()  # after warm-up (allocator pools, caches)
        if k < 20:
            continue
        stages["decode"].append((t1 - t0) * 1e3)
        for name in ("perception", "tracking", "relations"):
            stages[name].append(res.timings[name])
        stages["encode"].append((t3 - t2) * 1e3)
        stages["end_to_end"].append((t3 - t0) * 1e3)
    stages["rss"] = [rss0 or _rss_mb(), _rss_mb()]
    stages["objects"] = [len(res.graph.objects)]
    return stages


def _player(seconds: float, use_mask: bool, rate: float) -> None:
    """Publish the frames at ``rate`` for ``seconds`` (runs in its own process, as a camera
    driver would)."""
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image

    _world, data = eight_object_frames()
    rclpy.init()
    player = rclpy.create_node("latency_player")
    qos = qos_profile_sensor_data
    pubs = {k: player.create_publisher(Image, t, qos) for k, t in (
        ("color", "/camera/color/image_raw"), ("depth", "/camera/depth/image_raw"),
        ("mask", "/camera/segmentation/labels"))}
    info_pub = player.create_publisher(CameraInfo, "/camera/color/camera_info", qos)
    pose_pub = player.create_publisher(PoseStamped, "/camera/pose", 10)
    msgs = [(conv.numpy_to_image(rgb, "rgb8"), conv.depth_to_image(depth, "16UC1"),
             conv.numpy_to_image(mask, "mono8"), conv.intrinsics_to_camera_info(intr), pose)
            for rgb, depth, mask, intr, pose in data]
    time.sleep(2.0)  # discovery
    t_end = time.time() + seconds
    k = 0
    next_t = time.time()
    while time.time() < t_end:
        c, d, m, info, pose = msgs[k % len(msgs)]
        stamp = conv.seconds_to_stamp(time.time())
        for msg in (c, d, m, info):
            msg.header.stamp = stamp
            msg.header.frame_id = "camera_optical_frame"
        pose_pub.publish(conv.pose_to_msg(pose, stamp=stamp))
        info_pub.publish(info)
        pubs["color"].publish(c)
        pubs["depth"].publish(d)
        if use_mask:
            pubs["mask"].publish(m)
        k += 1
        next_t += 1.0 / rate
        time.sleep(max(0.0, next_t - time.time()))
    print(f"player: published {k} frames", flush=True)
    player.destroy_node()
    rclpy.try_shutdown()


def live(seconds: float, use_mask: bool, rate: float = 30.0) -> dict:
    """scene_graph_node in this process, the camera in another, over DDS."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from spatial_ros.msg import SceneGraph
    from spatial_ros.ros.scene_graph_node import SceneGraphNode

    rclpy.init()
    node = SceneGraphNode(parameter_overrides=[
        Parameter("mask_topic", value="/camera/segmentation/labels" if use_mask else "")])
    sink = rclpy.create_node("latency_sink")
    arrivals: list[tuple[float, float]] = []  # (wall time, age ms)

    def on_graph(msg):
        now = time.time()
        arrivals.append((now, (now - conv.stamp_to_seconds(msg.header.stamp)) * 1e3))
    sink.create_subscription(SceneGraph, "/spatial/scene_graph", on_graph, 10)
    # one thread spinning both (as `ros2 run` spins a node): it sleeps in rcl_wait when idle,
    # leaving the GIL to the node's worker
    executor = SingleThreadedExecutor()
    for n in (node, sink):
        executor.add_node(n)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    code = (f"from spatial_ros.ros.bench_latency import _player; "
            f"_player({seconds!r}, {use_mask!r}, {rate!r})")
    proc = subprocess.Popen([sys.executable, "-c", code])
    rss = []
    t_start = time.time()
    try:
        while proc.poll() is None and time.time() - t_start < seconds + 60:
            time.sleep(0.5)
            rss.append(_rss_mb())
        if proc.poll() is None:
            proc.kill()
    finally:
        executor.shutdown()
        # the spinning thread must be out of rcl before the nodes and the context go: a
        # context torn down under it aborted the process ("terminate called without an
        # active exception")
        thread.join(timeout=10.0)
        stats = {"processed": node.processed, "stale": node.dropped["stale"],
                 "rss": [rss[min(6, len(rss) - 1)] if rss else 0.0, _rss_mb()],
                 "received": node.input.frames, "dropped": dict(node.dropped),
                 "work_ms": (float(np.median(node.health.latency)) if node.health.latency
                             else math.nan),
                 "rejected": dict(node.input.rejected), "sync": node.input.sync_dropped}
        for n in (node, sink):
            n.destroy_node()
        rclpy.try_shutdown()
    t0 = arrivals[0][0] if arrivals else t_start
    span = (arrivals[-1][0] - t0) if len(arrivals) > 1 else math.nan
    third = [a for w, a in arrivals if w - t0 < span / 3]
    last = [a for w, a in arrivals if w - t0 > 2 * span / 3]
    stats.update(rate_hz=(len(arrivals) - 1) / span if span == span and span > 0 else 0.0,
                 age_first=float(np.median(third)) if third else math.nan,
                 age_last=float(np.median(last)) if last else math.nan)
    return stats


def run(*, frames: int = 500, use_mask: bool = True, live_seconds: float = 0.0) -> int:
    mode = "instance mask" if use_mask else "class-agnostic"
    stages = offline(frames, use_mask)
    print(f"scene graph latency, 640x480, {stages['objects'][0]} objects, realsense_d435 "
          f"noise, segmentation by {mode}, {len(stages['end_to_end'])} frames after 20 warm-up")
    print(f"{'stage':<14}{'p50 ms':>9}{'p95 ms':>9}")
    for name, vals in stages.items():
        if name in ("rss", "objects"):
            continue
        print(f"{name:<14}{np.median(vals):>9.2f}{np.percentile(vals, 95):>9.2f}")
    r0, r1 = stages["rss"]
    print(f"resident memory: {r0:.1f} MB at frame 20, {r1:.1f} MB at frame {frames} "
          f"({r1 - r0:+.1f} MB)")
    if live_seconds > 0:
        s = live(live_seconds, use_mask)
        print(f"live over DDS, {live_seconds:g} s of 30 Hz camera input from another process:")
        print(f"  output {s['rate_hz']:.1f} Hz; {s['received']} frames synchronised, "
              f"{s['processed']} processed (node work p50 {s['work_ms']:.1f} ms)")
        print(f"  dropped: {s['dropped']}, decode/size {s['rejected']}, unmatched by the "
              f"synchroniser {s['sync']} messages")
        print(f"  output age p50 (receive - frame stamp): {s['age_first']:.0f} ms in the first "
              f"third, {s['age_last']:.0f} ms in the last third (flat = no growing queue)")
        print(f"  resident memory {s['rss'][0]:.0f} -> {s['rss'][1]:.0f} MB")
    return 0
