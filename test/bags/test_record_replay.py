"""rosbag2 record (MCAP / sqlite3) and replay through the live scene-graph node."""
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from rclpy.parameter import Parameter

from spatial_ros.msg import SceneGraph
from spatial_ros.ros import conversions as conv
from spatial_ros.ros.bagio import BagError, replay
from spatial_ros.ros.scene_graph_node import SceneGraphNode

CAMERA = {"/camera/color/image_raw", "/camera/depth/image_raw", "/camera/color/camera_info",
          "/camera/segmentation/labels", "/camera/pose"}


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "spatial_ros.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def bag(tmp_path_factory, ros_domain_id):
    import os

    path = tmp_path_factory.mktemp("bags") / "tabletop"
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros_domain_id + 1))  # away from the live tests
    r = subprocess.run([sys.executable, "-m", "spatial_ros.cli", "record", "--out", str(path),
                        "--duration", "4", "--sim", "tabletop"], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stdout[-1000:] + r.stderr[-2000:]
    return path


def test_bag_is_standard_and_self_describing(bag):
    from rosbags.highlevel import AnyReader

    meta = (bag / "metadata.yaml").read_text()
    assert "storage_identifier: mcap" in meta and "spatial_ros/msg/SceneGraph" in meta
    # rosbags reads our types from the definitions embedded in the bag alone
    with AnyReader([bag]) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        assert topics["/sim/ground_truth"] == "spatial_ros/msg/SceneGraph"
        conn = next(c for c in reader.connections if c.topic == "/sim/ground_truth")
        assert "SpatialRelation" in conn.msgdef.data
        _c, _t, raw = next(iter(reader.messages(connections=[conn])))
        graph = reader.deserialize(raw, conn.msgtype)
        assert len(graph.objects) == 7 and len(graph.relations) > 50
        n_images = sum(1 for c in reader.connections if c.topic == "/camera/color/image_raw"
                       for _ in reader.messages(connections=[c]))
        assert n_images >= 10


def test_replay_drives_the_scene_graph_node(ros, bag):
    from rosbags.highlevel import AnyReader

    with AnyReader([bag]) as reader:
        conn = next(c for c in reader.connections if c.topic == "/sim/ground_truth")
        _c, _t, raw = next(iter(reader.messages(connections=[conn])))
        truth = reader.deserialize(raw, conn.msgtype)
    centres = sorted(tuple(np.round([o.bbox_center.position.x, o.bbox_center.position.y], 2))
                     for o in truth.objects)
    out = ros.inbox(SceneGraph, "/spatial/scene_graph")
    ros.add(SceneGraphNode(parameter_overrides=[
        Parameter("mask_topic", value="/camera/segmentation/labels")], **ros.node_kwargs))
    player = ros.add(__import__("rclpy").create_node("player", **ros.node_kwargs))
    sent = replay(player, bag, rate=1.0, topics=CAMERA)
    assert sent["/camera/color/image_raw"] >= 10
    graphs = out.wait(lambda m: len(m.objects) == 7, count=3, timeout=30)
    graph = conv.scene_graph_from_msg(graphs[-1])
    seen = sorted(tuple(np.round(o.box.center[:2], 2)) for o in graph.objects)
    assert np.allclose(seen, centres, atol=0.03)


def test_sqlite3_storage(tmp_path, ros_domain_id):
    import os

    env = dict(os.environ, ROS_DOMAIN_ID=str(ros_domain_id + 2))
    r = subprocess.run([sys.executable, "-m", "spatial_ros.cli", "record", "--out",
                        str(tmp_path / "b"), "--storage", "sqlite3", "--duration", "2", "--sim",
                        "tabletop"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "storage_identifier: sqlite3" in (tmp_path / "b/metadata.yaml").read_text()
    assert list((tmp_path / "b").glob("*.db3"))


def test_bad_bags_are_named_and_exit_nonzero(bag, tmp_path, ros):
    r = _cli("replay", str(tmp_path / "missing"))
    assert r.returncode == 2 and "no such bag" in r.stderr
    nometa = tmp_path / "nometa"
    shutil.copytree(bag, nometa)
    (nometa / "metadata.yaml").unlink()
    r = _cli("replay", str(nometa))
    assert r.returncode == 2 and "no metadata.yaml" in r.stderr and "nometa" in r.stderr
    broken = tmp_path / "broken"
    shutil.copytree(bag, broken)
    mcap = next(broken.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[:2000])  # truncated
    r = _cli("replay", str(broken))
    assert r.returncode != 0 and "broken" in r.stderr
    node = ros.add(__import__("rclpy").create_node("player2", **ros.node_kwargs))
    with pytest.raises(BagError, match="no topic to replay"):
        replay(node, bag, topics={"/not/a/topic"})
    r = _cli("record", "--out", str(bag), "--duration", "1")
    assert r.returncode == 2 and "exists already" in r.stderr


def test_loop_and_stop(ros, bag):
    node = ros.add(__import__("rclpy").create_node("player3", **ros.node_kwargs))
    stop = threading.Event()
    seen = []

    def on_message(topic, _t):
        seen.append(topic)
        if len(seen) >= 250:  # more than the bag holds: it looped
            stop.set()
    sent = replay(node, bag, rate=20.0, loop=True, stop=stop, on_message=on_message,
                  topics={"/camera/pose", "/camera/color/camera_info"})
    assert sum(sent.values()) >= 250 > 2 * 20


def test_scene_graph_node_restart_mid_replay(ros, bag):
    """The planner keeps answering from the last graph (saying how old it is) while the scene
    graph node is down, and picks up new graphs when it is back; nothing else restarts."""
    import time

    from spatial_ros.ros.planner_node import PlannerNode
    from spatial_ros.srv import QuerySpatial

    out = ros.inbox(SceneGraph, "/spatial/scene_graph")
    planner = ros.add(PlannerNode(**ros.node_kwargs))
    params = [Parameter("mask_topic", value="/camera/segmentation/labels"),
              Parameter("max_frame_gap", value=60.0)]
    graph_node = ros.add(SceneGraphNode(parameter_overrides=params, **ros.node_kwargs))
    player = ros.add(__import__("rclpy").create_node("player4", **ros.node_kwargs))
    stop = threading.Event()
    thread = threading.Thread(target=replay, args=(player, bag),
                              kwargs={"loop": True, "stop": stop,
                                      "topics": CAMERA}, daemon=True)
    thread.start()
    client = ros.node.create_client(QuerySpatial, "/spatial/query")

    def ask():
        return ros.call(client, QuerySpatial.Request(
            question="is the green box on top of the blue box?"), timeout=10)

    try:
        out.wait(lambda m: len(m.objects) == 7, timeout=30)
        r = ask()
        assert r.success and r.answer == "yes" and 0 <= r.graph_age < 2.0
        ros.remove(graph_node)  # the scene-graph node goes down mid-replay
        time.sleep(2.5)
        r = ask()
        assert r.success and r.answer == "yes" and r.graph_age > 2.0  # old graph, says so
        n = len(out.messages)
        ros.add(SceneGraphNode(parameter_overrides=params, **ros.node_kwargs))  # back up
        out.wait(lambda m: len(m.objects) == 7, count=n + 2, timeout=30)
        time.sleep(0.3)
        r = ask()
        assert r.success and r.answer == "yes" and r.graph_age < 2.0
        assert planner.graph is not None
    finally:
        stop.set()
        thread.join(timeout=10)


def test_a_looping_replay_keeps_the_graph_coming(ros, bag):
    """Time jumps back when a bag loops: the node restarts tracking instead of dropping every
    frame as out of order."""
    out = ros.inbox(SceneGraph, "/spatial/scene_graph")
    ros.add(SceneGraphNode(parameter_overrides=[
        Parameter("mask_topic", value="/camera/segmentation/labels")], **ros.node_kwargs))
    player = ros.add(__import__("rclpy").create_node("player5", **ros.node_kwargs))
    stop = threading.Event()
    thread = threading.Thread(target=replay, args=(player, bag), kwargs={
        "rate": 2.0, "loop": True, "stop": stop, "topics": CAMERA}, daemon=True)
    thread.start()
    try:
        first = out.wait(timeout=30)[0]
        t_first = conv.stamp_to_seconds(first.header.stamp)
        # stamps rise within one pass of the bag: a later graph stamped no later than the first
        # one can only come from the next pass
        out.wait(lambda m: m is not first and conv.stamp_to_seconds(m.header.stamp) <= t_first,
                 timeout=40)
    finally:
        stop.set()
        thread.join(timeout=10)


def test_unknown_message_types_are_named(tmp_path):
    """A bag of a type that is not importable here: nothing to replay, exit 2 naming the type."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(get_types_from_msg("int32 value\n", "acme_msgs/msg/Widget"))
    path = tmp_path / "alien"
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/widgets", "acme_msgs/msg/Widget", typestore=store)
        msg = store.types["acme_msgs/msg/Widget"](value=3)
        writer.write(conn, 1, store.serialize_cdr(msg, "acme_msgs/msg/Widget"))
    r = _cli("replay", str(path))
    assert r.returncode == 2
    assert "acme_msgs/msg/Widget" in r.stderr and "/widgets" in r.stderr and "alien" in r.stderr


def test_topics_nobody_listens_to_are_warned_about(ros, bag):
    node = ros.add(__import__("rclpy").create_node("player6", **ros.node_kwargs))
    from rcl_interfaces.msg import Log

    logs = ros.inbox(Log, "/rosout")
    sent = replay(node, bag, rate=20.0, topics={"/camera/pose"})
    assert sent["/camera/pose"] >= 10
    logs.wait(lambda m: "no node listens to /camera/pose" in m.msg
              and "none of the bag's topics has a subscriber" in m.msg, timeout=10)
