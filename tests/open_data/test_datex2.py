"""The open-data feed against DATEX II's published JSON schema.

Run: PARKCTL=target/debug/parkctl .venv/bin/python -m unittest discover -s tests/open_data -v

Starts `parkctl serve` with two simulated demo lots (which publish their
status), reads the feed without a token, and validates it, and each lot's
own feed, with a Draft 4 validator against the DATEX II 3.5 schema in
fixtures/datex2 (a D2Payload holding a ParkingStatusPublication). Each
site's figures must be the driver API's at the same moment. Documents
broken on purpose must fail, so a validator that accepts anything fails
the test too.
"""

import copy
import json
import os
import pathlib
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

PARKCTL = os.environ.get("PARKCTL", "target/debug/parkctl")
ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "fixtures" / "datex2"
DRIVER = {"sub": "d-demo-1-11", "cognito:groups": "driver"}
WAIT = 60.0


def validator():
    def retrieve(uri):
        path = SCHEMAS / uri
        if not path.is_file():
            raise LookupError(f"{uri} is not among the vendored schemas")
        return Resource.from_contents(
            json.loads(path.read_text()), default_specification=DRAFT4
        )

    root = json.loads((SCHEMAS / "DATEXII_3_D2Payload.json").read_text())
    return Draft4Validator(root, registry=Registry(retrieve=retrieve))


def errors(v, doc):
    return [f"{e.json_path}: {e.message}" for e in v.iter_errors(doc)]


class Feed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.serve = subprocess.Popen(
            [PARKCTL, "serve", "--addr", "127.0.0.1:0", "--dev-claims", "--lots", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = cls.serve.stdout.readline().strip()
        if not line.startswith("http"):
            cls.serve.kill()
            raise RuntimeError(f"parkctl serve did not start: {line!r}")
        cls.url = line
        cls.v = validator()

    @classmethod
    def tearDownClass(cls):
        cls.serve.kill()
        cls.serve.wait()

    def get(self, path, claims=None):
        req = urllib.request.Request(self.url + path)
        if claims:
            req.add_header("X-Dev-Claims", json.dumps(claims))
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as r:
                return r.status, dict(r.headers), json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), json.loads(e.read())

    def test_the_feed_is_a_valid_datex_ii_parking_status_publication(self):
        status, headers, doc = self.get("/v1/public/parking-status")
        self.assertEqual(status, 200, doc)
        self.assertEqual(headers.get("cache-control"), "public, max-age=30")
        self.assertEqual(errors(self.v, doc), [])
        sites = doc["payload"]["prkParkingStatusPublication"]["parkingStatusInformation"]
        ids = [s["prkParkingStatusInformation"]["reference"]["idG"] for s in sites]
        self.assertEqual(ids, ["demo-1", "demo-2"])
        for lot in ids:
            status, _, one = self.get(f"/v1/public/lots/{lot}/parking-status")
            self.assertEqual(status, 200, one)
            self.assertEqual(errors(self.v, one), [])

    def test_each_site_counts_what_the_driver_app_shows(self):
        for lot in ["demo-1", "demo-2"]:
            # The lots live on while we read: the two answers agree on one
            # of a few paired reads.
            seen = []
            for _ in range(5):
                _, _, feed = self.get(f"/v1/public/lots/{lot}/parking-status")
                _, _, app = self.get(f"/v1/lots/{lot}", DRIVER)
                site = feed["payload"]["prkParkingStatusPublication"][
                    "parkingStatusInformation"
                ][0]["prkParkingStatusInformation"]
                pair = (
                    site["occupancy"]["numberOfVacantSpaces"],
                    site["occupancy"]["numberOfOccupiedSpaces"],
                    site["newRates"]["facRateTable"]["idG"],
                )
                free = app["availability"]["free_estimate"]
                want = (free, app["capacity"] - free, app["tariff"]["id"])
                seen.append((pair, want))
                if pair == want:
                    break
            else:
                self.fail(f"{lot}: the feed and the driver API never agreed: {seen}")

    def test_a_lot_that_is_not_there_is_not_found(self):
        status, _, doc = self.get("/v1/public/lots/demo-9/parking-status")
        self.assertEqual((status, doc["code"]), (404, "not_found"))

    def test_the_schema_refuses_what_datex_ii_does_not_allow(self):
        _, _, doc = self.get("/v1/public/parking-status")
        pub = "prkParkingStatusPublication"
        broken = []
        d = copy.deepcopy(doc)
        del d["payload"][pub]["publicationCreator"]
        broken.append(("no publication creator", d))
        d = copy.deepcopy(doc)
        d["payload"][pub]["parkingStatusInformation"] = []
        broken.append(("no site", d))
        d = copy.deepcopy(doc)
        site = d["payload"][pub]["parkingStatusInformation"][0]["prkParkingStatusInformation"]
        site["occupancy"]["numberOfVacantSpaces"] = -1
        broken.append(("negative vacant spaces", d))
        d = copy.deepcopy(doc)
        site = d["payload"][pub]["parkingStatusInformation"][0]["prkParkingStatusInformation"]
        site["openingStatus"] = {"value": "ajar"}
        broken.append(("an opening status DATEX II does not name", d))
        d = copy.deepcopy(doc)
        site = d["payload"][pub]["parkingStatusInformation"][0]["prkParkingStatusInformation"]
        site["newRates"]["facRateTable"]["applicableCurrency"] = "JPY"
        broken.append(("a currency that is not a list", d))
        d = copy.deepcopy(doc)
        d["payload"][pub]["vacancy"] = 3
        broken.append(("a field DATEX II does not define", d))
        for what, d in broken:
            with self.subTest(what):
                self.assertNotEqual(errors(self.v, d), [], what)


if __name__ == "__main__":
    unittest.main()
