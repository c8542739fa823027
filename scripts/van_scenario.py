"""A delivery van at the day-one lot: in and out `visits` times a day for
`days` days, as a scenario for `parkctl replay` (the lot, its tariff and
devices are day-one's). Prints the scenario as JSON.

Usage: python3 scripts/van_scenario.py DAYS [VISITS_PER_DAY]
"""

import datetime
import json
import pathlib
import sys


def main() -> None:
    days = int(sys.argv[1])
    visits = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    root = pathlib.Path(__file__).resolve().parent.parent
    scenario = json.loads((root / "fixtures/scenarios/day-one.json").read_text())
    plate = scenario["drivers"][0]["plates"][0]
    lot = scenario["lot"]["id"]
    start = datetime.datetime.fromisoformat("2026-11-30T06:00:00+09:00")
    gap = datetime.timedelta(minutes=16 * 60 // visits)
    messages = []
    n = 0
    for d in range(days):
        for v in range(visits):
            entry = start + datetime.timedelta(days=d) + gap * v
            for gate, client, direction, at in [
                ("g-in", "cam-in", "entry", entry),
                ("g-out", "cam-out", "exit", entry + datetime.timedelta(minutes=12)),
            ]:
                n += 1
                messages.append({
                    "topic": f"parking/{lot}/gates/{gate}/events",
                    "client_id": client,
                    "received_at": (at + datetime.timedelta(seconds=1)).isoformat(),
                    "payload": {
                        "event_id": f"van-{n}",
                        "type": "plate_read",
                        "direction": direction,
                        "plate": plate,
                        "confidence": 0.97,
                        "occurred_at": at.isoformat(),
                        "seq": n,
                    },
                })
    scenario["messages"] = messages
    json.dump(scenario, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
