"""Devices against `parkctl dev`, as real MQTT clients (paho-mqtt, MQTT 5
over TLS with client certificates).

Run: PARKCTL=target/debug/parkctl .venv/bin/python -m unittest discover -s tests/mqtt -v

The class provisions four things in a fresh directory (two entry cameras
of demo-1, an exit camera, and a camera that is revoked during the run),
starts `parkctl dev up` on a free port, waits until the bridge answers,
and stops it at the end. Every wait has a deadline; nothing depends on
timing beyond it.
"""

import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import uuid
from datetime import datetime, timezone

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

PARKCTL = os.environ.get("PARKCTL", "target/debug/parkctl")
LOT = "demo-1"
NOT_AUTHORIZED = 135
WAIT = 10.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plate_read(direction="entry", **extra):
    read = {
        "event_id": f"mq-{uuid.uuid4().hex[:16]}",
        "type": "plate_read",
        "direction": direction,
        "plate": "品川 300 さ 12-34",
        "confidence": 0.97,
        "occurred_at": now_rfc3339(),
        "seq": 1,
    }
    read.update(extra)
    return read


def wait_for(predicate, what, deadline=WAIT):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {deadline} s")


class Device:
    """One device: its certificate, one MQTT 5 connection, what it got."""

    def __init__(self, test, name, client_id=None):
        self.name = name
        self.dir = test.dir
        self.port = test.port
        self.client_id = client_id or name
        self.messages = []
        self.acks = {}
        self.suback = None
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.refused = None

    def connect(self):
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
        )
        things = os.path.join(self.dir, "things", self.name)
        c.tls_set(
            ca_certs=os.path.join(self.dir, "ca.pem"),
            certfile=os.path.join(things, "cert.pem"),
            keyfile=os.path.join(things, "key.pem"),
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        c.on_publish = self._on_publish
        c.on_subscribe = self._on_subscribe
        c.reconnect_delay_set(60, 60)
        self.client = c
        c.connect("127.0.0.1", self.port, keepalive=30)
        c.loop_start()
        return self

    def _on_connect(self, _c, _u, _flags, reason_code, _props):
        if reason_code.is_failure:
            self.refused = reason_code
        else:
            self.connected.set()

    def _on_disconnect(self, _c, _u, _flags, _reason_code, _props):
        self.disconnected.set()

    def _on_publish(self, _c, _u, mid, reason_code, _props):
        self.acks[mid] = reason_code.value

    def _on_subscribe(self, _c, _u, _mid, reason_codes, _props):
        self.suback = [r.value for r in reason_codes]

    def subscribe(self, topic):
        self.suback = None
        self.client.subscribe(topic, qos=1)
        return wait_for(lambda: self.suback, f"SUBACK for {topic}")

    def publish(self, topic, payload):
        info = self.client.publish(topic, json.dumps(payload), qos=1)
        return wait_for(lambda: self.acks.get(info.mid) is not None or None, "PUBACK") and self.acks[info.mid]

    def commands_for(self, event_id):
        out = []
        for _topic, body in self.messages:
            try:
                cmd = json.loads(body)
            except ValueError:
                continue
            if cmd.get("event_id") == event_id:
                out.append(cmd)
        return out

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


class DevBrokerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.port = free_port()
        cls.things = {}
        places = [("a", "--gate", "in-1"), ("b", "--gate", "in-2"), ("exit", "--gate", "out-1"),
                  ("stolen", "--gate", "out-2"), ("sensor", "--bay", "B-001")]
        for key, flag, place in places:
            out = subprocess.run(
                [PARKCTL, "dev", "provision", "--dir", cls.dir, "--lot", LOT, flag, place],
                check=True, capture_output=True, text=True,
            )
            cls.things[key] = json.loads(out.stdout)["thing"]
        cls.log_path = os.path.join(cls.dir, "bridge.log")
        cls.log = open(cls.log_path, "w")
        cls.proc = subprocess.Popen(
            [PARKCTL, "dev", "up", "--dir", cls.dir, "--port", str(cls.port)],
            stdout=cls.log, stderr=subprocess.STDOUT,
        )
        # The bridge is up when a heartbeat of device A comes out handled.
        wait_for(lambda: os.path.exists(os.path.join(cls.dir, "broker.json")), "broker", 60)
        a = Device(cls, cls.things["a"]).connect()
        try:
            wait_for(a.connected.is_set, "connection of device A", 30)

            def heard():
                a.client.publish(f"parking/{LOT}/gates/in-1/events", json.dumps({"type": "heartbeat"}), qos=1)
                time.sleep(0.3)
                return any(
                    line.get("client") == cls.things["a"] and line.get("outcome") == "handled"
                    for line in cls.bridge_lines()
                )

            wait_for(heard, "heartbeat through the bridge", 60)
        finally:
            a.close()

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        try:
            cls.proc.wait(10)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
        cls.log.close()
        cls.tmp.cleanup()

    @classmethod
    def bridge_lines(cls):
        out = []
        with open(cls.log_path) as f:
            for line in f:
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        return out

    def device(self, key, client_id=None):
        d = Device(self, self.things[key], client_id).connect()
        self.addCleanup(d.close)
        wait_for(d.connected.is_set, f"connection of {key}")
        return d

    def test_a_plate_read_from_a_provisioned_camera_gets_its_command_back(self):
        a = self.device("a")
        self.assertEqual(a.subscribe(f"parking/{LOT}/gates/in-1/commands"), [1])
        read = plate_read()
        self.assertEqual(a.publish(f"parking/{LOT}/gates/in-1/events", read), 0)
        (cmd,) = wait_for(lambda: a.commands_for(read["event_id"]), "gate command")
        self.assertEqual(cmd["command"], "open")
        self.assertGreater(cmd["expires_at"], cmd["issued_at"])
        handled = [l for l in self.bridge_lines() if l.get("commands") and l["commands"][0]["event_id"] == read["event_id"]]
        self.assertEqual(handled[0]["client"], self.things["a"])
        with open(self.log_path) as f:
            self.assertNotIn("品川", f.read(), "a plate in the bridge's output")

    def test_a_device_cannot_connect_as_another(self):
        b = self.device("b")
        # A asks for B's client id; the broker gives it its own, so B
        # stays connected and whatever A sends is A's.
        a = self.device("a", client_id=self.things["b"])
        # The broker takes A's subscription to B's commands but never
        # delivers them to A (IoT Core: no iot:Receive).
        a.subscribe(f"parking/{LOT}/gates/in-2/commands")
        b.subscribe(f"parking/{LOT}/gates/in-2/commands")
        read = plate_read()
        self.assertEqual(b.publish(f"parking/{LOT}/gates/in-2/events", read), 0)
        wait_for(lambda: b.commands_for(read["event_id"]), "B's gate command")
        time.sleep(0.5)
        self.assertFalse(b.disconnected.is_set(), "device A pushed device B off")
        self.assertEqual(a.commands_for(read["event_id"]), [], "A received B's command")

    def test_a_device_cannot_publish_on_another_devices_topics(self):
        a = self.device("a")
        b = self.device("b")
        b.subscribe(f"parking/{LOT}/gates/in-2/commands")
        in_2 = lambda: [l for l in self.bridge_lines() if "/in-2/" in (l.get("topic") or "")]
        before = len(in_2())
        for suffix in ["events", "backlog", "state"]:
            read = plate_read()
            payload = {"events": [read]} if suffix == "backlog" else read
            self.assertEqual(a.publish(f"parking/{LOT}/gates/in-2/{suffix}", payload), NOT_AUTHORIZED, suffix)
        self.assertEqual(a.publish(f"parking/{LOT}/bays/B-001/state", {"occupied": True}), NOT_AUTHORIZED)
        time.sleep(1.0)
        self.assertEqual(len(in_2()), before, "something A sent reached the bridge as in-2's")
        self.assertEqual(b.messages, [])

    def test_no_device_may_publish_on_a_command_topic(self):
        a = self.device("a")
        b = self.device("b")
        b.subscribe(f"parking/{LOT}/gates/in-2/commands")
        a.subscribe(f"parking/{LOT}/gates/in-1/commands")
        forged = {"command": "open", "event_id": "forged", "reason": "staff"}
        self.assertEqual(a.publish(f"parking/{LOT}/gates/in-1/commands", forged), NOT_AUTHORIZED)
        self.assertEqual(a.publish(f"parking/{LOT}/gates/in-2/commands", forged), NOT_AUTHORIZED)
        time.sleep(1.0)
        self.assertEqual(a.messages, [])
        self.assertEqual(b.messages, [])

    def test_a_payload_that_brings_its_own_topic_or_clientid_is_dropped(self):
        a = self.device("a")
        a.subscribe(f"parking/{LOT}/gates/in-1/commands")
        forged = [
            plate_read(clientid=self.things["b"]),
            plate_read(topic=f"parking/{LOT}/gates/in-2/events"),
        ]
        for read in forged:
            self.assertEqual(a.publish(f"parking/{LOT}/gates/in-1/events", read), 0)
        for field in ["clientid", "topic"]:
            wait_for(
                lambda: [l for l in self.bridge_lines() if l.get("outcome") == "dropped" and l["why"].startswith(field + ":")],
                f"the bridge dropping a payload with its own {field}",
            )
        time.sleep(1.0)
        for read in forged:
            self.assertEqual(a.commands_for(read["event_id"]), [], "a forged read moved a barrier")

    def test_a_revoked_device_can_no_longer_connect(self):
        stolen = self.device("stolen")
        subprocess.run(
            [PARKCTL, "dev", "revoke", "--dir", self.dir, "--name", self.things["stolen"]],
            check=True, capture_output=True,
        )
        wait_for(stolen.disconnected.is_set, "the revoked device's connection to close")
        # The broker restarts with the new revocation list: wait until a
        # good device connects again, then try the stolen one.
        def good():
            try:
                return self.device("a")
            except ConnectionRefusedError:
                return None

        wait_for(good, "the broker back")

        def attempt():
            d = Device(self, self.things["stolen"])
            try:
                d.connect()
            except ssl.SSLError:
                return "refused at the handshake"
            time.sleep(1.0)
            d.client.loop_stop()
            return "connected" if d.connected.is_set() else "refused after the handshake"

        self.assertNotEqual(attempt(), "connected")
        with open(os.path.join(self.dir, "mosquitto.log")) as f:
            log = f.read()
        self.assertRegex(log, "certificate (verify failed|revoked)", "the broker refused the certificate")
        # The others carry on.
        a = self.device("a")
        self.assertTrue(a.connected.is_set())

    def test_a_sensor_reports_through_basic_ingest_and_a_repeat_changes_nothing(self):
        sensor = self.device("sensor")
        ingest = f"$aws/rules/seamless_parking_dev_bay_events/parking/{LOT}/bays/B-001/state"
        # Only through Basic Ingest: the plain topic is not the sensor's.
        self.assertEqual(sensor.publish(f"parking/{LOT}/bays/B-001/state", {"occupied": True}), NOT_AUTHORIZED)
        # Nor another bay's, nor a gate's.
        other_bay = f"$aws/rules/seamless_parking_dev_bay_events/parking/{LOT}/bays/B-002/state"
        self.assertEqual(sensor.publish(other_bay, {"occupied": True}), NOT_AUTHORIZED)
        self.assertEqual(sensor.publish(f"parking/{LOT}/gates/in-1/events", plate_read()), NOT_AUTHORIZED)

        def reading(seq, since, occupied):
            return {"event_id": f"s-{uuid.uuid4().hex[:12]}", "occupied": occupied, "confidence": 0.95,
                    "occurred_at": now_rfc3339(), "seq": seq, "since": since, "boot": 7}

        outcomes = []
        for r in [reading(10, 10, True), reading(11, 10, True), reading(12, 12, False)]:
            self.assertEqual(sensor.publish(ingest, r), 0)
            line = wait_for(
                lambda: [l for l in self.bridge_lines() if l.get("topic") == ingest and l.get("client") == self.things["sensor"]][len(outcomes):],
                "the bridge handling the reading",
            )[0]
            outcomes.append((line["applied"], line["duplicates"]))
        self.assertEqual(outcomes, [(1, 0), (0, 1), (1, 0)], "a repeat is a duplicate; changes apply")

    def test_the_emulated_gates_drive_cars_in_and_out(self):
        out = subprocess.run(
            [PARKCTL, "dev", "emulate", "--dir", self.dir, "--lot", LOT, "--entry", "in-1",
             "--exit", "out-1", "--cars", "12", "--seed", "3"],
            check=True, capture_output=True, text=True, timeout=120,
        )
        summary = json.loads(out.stdout)
        for lane in ["entry", "exit"]:
            got = summary[lane]
            self.assertEqual(got["reads"], 12, lane)
            self.assertEqual(got["opened"] + got["held"], 12, f"{lane}: every read answered over MQTT")
            self.assertEqual(got["decided_offline"], 0, lane)
        self.assertGreater(summary["round_trip_ms_p99"], 0)


if __name__ == "__main__":
    unittest.main()
