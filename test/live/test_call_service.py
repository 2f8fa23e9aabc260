"""call_service over DDS: a request left unanswered is asked again, and a reply still comes."""
import rclpy

from spatial_ros.ros.runner import call_service
from spatial_ros.srv import QuerySpatial


def test_an_unanswered_request_is_sent_again_until_the_reply_comes(ros, capfd):
    """A server that is not spun for its first 2.5 s (a busy or late node): the first request
    waits unanswered, call_service asks again after resend_after, and returns the reply to the
    request it still waits on (the stale reply is dropped by rclpy's sequence numbers)."""
    asked = []

    def answer(request, response):
        asked.append(request.question)
        response.success, response.answer = True, f"reply {len(asked)}"
        return response

    server = rclpy.create_node("late_server", **ros.node_kwargs)
    server.create_service(QuerySpatial, "/late/query", answer)
    client = ros.node.create_client(QuerySpatial, "/late/query")
    timer = ros.node.create_timer(2.5, lambda: (ros.add(server), timer.cancel()))
    r = call_service(client, QuerySpatial.Request(question="q"), timeout=20, resend_after=1.0)
    assert r.success and r.answer.startswith("reply")
    assert len(asked) >= 2  # the first request and at least one resend reached the server
    assert "no reply from /late/query in 1 s: asking again (2)" in capfd.readouterr().err
