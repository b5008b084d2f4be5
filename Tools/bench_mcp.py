#!/usr/bin/env python3
"""How much an MCP tool call adds to the same question asked of `serve`:

    bench_mcp.py HINDSIGHT DATA_DIR [CALLS]

Asks each question CALLS times (default 200) through `hindsight mcp` (the `mcp` package's own
client) and through `hindsight serve` (one JSON-RPC request a line), after a first call of each
that builds what the question reads, and prints the median and p99 of each, and of the
difference. Both run on this machine; compare them with each other, not with other runs.
"""
import asyncio
import json
import statistics
import subprocess
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

QUESTIONS = [
    ("audit.search", {"actor": "usr_1_1", "limit": 10}),
    ("rbac.check", {"subject": "usr_1_1", "permission": "project:deploy", "resource": "project/prj_1_1"}),
    ("tokens.list", {"owner": "usr_1_1"}),
]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[max(0, -(-int(q * len(ordered) * 1000) // 1000) - 1)]


def serve_times(hindsight, data, calls):
    server = subprocess.Popen([hindsight, "serve", "--data", data], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    times = {}
    for method, params in QUESTIONS:
        spent = []
        for number in range(calls + 1):
            start = time.perf_counter()
            server.stdin.write(json.dumps({"jsonrpc": "2.0", "id": number, "method": method, "params": params}) + "\n")
            server.stdin.flush()
            assert "result" in json.loads(server.stdout.readline())
            if number:
                spent.append((time.perf_counter() - start) * 1000)
        times[method] = spent
    server.stdin.close()
    server.wait()
    return times


async def mcp_times(hindsight, data, calls):
    times = {}
    async with stdio_client(StdioServerParameters(command=hindsight, args=["mcp", "--data", data])) as (read, write):
        async with ClientSession(read, write) as client:
            await client.initialize()
            for method, params in QUESTIONS:
                spent = []
                for number in range(calls + 1):
                    start = time.perf_counter()
                    result = await client.call_tool(method.replace(".", "_"), params)
                    assert not result.is_error, result.content[0].text
                    if number:
                        spent.append((time.perf_counter() - start) * 1000)
                times[method] = spent
    return times


def main(hindsight, data, calls):
    served = serve_times(hindsight, data, calls)
    tools = asyncio.run(mcp_times(hindsight, data, calls))
    for method, _ in QUESTIONS:
        s, m = served[method], tools[method]
        print(f"{method}: serve p50 {statistics.median(s):.2f} ms p99 {percentile(s, 0.99):.2f} ms; "
              f"mcp p50 {statistics.median(m):.2f} ms p99 {percentile(m, 0.99):.2f} ms; "
              f"added p50 {statistics.median(m) - statistics.median(s):.2f} ms p99 {percentile(m, 0.99) - percentile(s, 0.99):.2f} ms")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 200)
