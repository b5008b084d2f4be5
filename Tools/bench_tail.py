#!/usr/bin/env python3
"""How soon `hindsight tail` prints an event another process appends:

    bench_tail.py HINDSIGHT DATA_DIR [APPENDS]

Starts a tail on DATA_DIR (a log of any size), appends APPENDS events (default 50) one
`hindsight append` at a time, and prints the median and p99 of the time from each append's
return to the tail printing its event.
"""
import json
import os
import statistics
import subprocess
import sys
import time

EVENT = ('{"type":"build.queued","stream":"build/b_tail%d","occurredAt":"2026-03-21T09:00:00.000Z",'
         '"actor":{"kind":"user","id":"usr_1_1"},"org":"org_1","data":{"build":"b_tail%d","project":"prj_1_1",'
         '"commit":"935afcca71cfdf80e4ebb5c8ad4582808886a3db","branch":"main","trigger":"push"}}')


def main(hindsight, data, appends):
    tail = subprocess.Popen([hindsight, "tail", "--data", data, "--type", "build.queued"], stdout=subprocess.PIPE)
    os.set_blocking(tail.stdout.fileno(), True)
    time.sleep(0.5)
    waits = []
    stamp = int(time.time())
    for number in range(appends):
        name = stamp * 1000 + number
        subprocess.run([hindsight, "append", "--data", data], input=(EVENT % (name, name)).encode(), check=True,
                       capture_output=True)
        returned = time.perf_counter()
        line = tail.stdout.readline()
        waits.append((time.perf_counter() - returned) * 1000)
        assert f"b_tail{name}" in line.decode(), line
    tail.kill()
    ordered = sorted(waits)
    print(f"tail saw each of {appends} appends: median {statistics.median(waits):.2f} ms, "
          f"p99 {ordered[max(0, int(0.99 * len(ordered)) - 1)]:.2f} ms, slowest {ordered[-1]:.2f} ms after the append returned")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 50)
