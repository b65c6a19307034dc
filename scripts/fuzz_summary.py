"""Cases per operation across schemathesis NDJSON reports (scripts/fuzz.sh).

Usage: python fuzz_summary.py REPORT_DIR
"""

import collections
import json
import pathlib
import sys


def main():
    cases = collections.Counter()
    statuses = collections.defaultdict(collections.Counter)
    failures = 0
    for report in sorted(pathlib.Path(sys.argv[1]).glob("*.ndjson")):
        for line in report.open():
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            label = recorder["label"]
            cases[label] += len(recorder.get("cases", {}))
            for interaction in recorder.get("interactions", {}).values():
                response = interaction.get("response") or {}
                if "status_code" in response:
                    statuses[label][response["status_code"]] += 1
            for checks in recorder.get("checks", {}).values():
                failures += sum(1 for c in checks if c.get("status") == "failure")
    print(f"{'cases':>7}  operation  (responses by status)")
    for label in sorted(cases):
        by_status = ", ".join(f"{s}: {n}" for s, n in sorted(statuses[label].items()))
        print(f"{cases[label]:>7}  {label}  ({by_status})")
    print(
        f"schemathesis total: {sum(cases.values())} cases over {len(cases)} operations, "
        f"{failures} failed checks"
    )


if __name__ == "__main__":
    main()
