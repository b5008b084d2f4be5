#!/usr/bin/env python3
"""Drives `hindsight mcp` with the Model Context Protocol's own Python client (the `mcp`
package from PyPI, which Hindsight did not write), and checks what a tool user relies on:

    check_mcp.py HINDSIGHT DATA_DIR

- initialize names the server, and tools/list offers every reading method of
  `hindsight query system.methods` (with `_` for `.`; but log.subscribe and log.unsubscribe,
  whose events come as notifications) with the method's parameter schema as its input schema,
  and no tool that writes;
- tool calls answer exactly as `hindsight query` answers the same method and parameters;
- bad arguments come back as tool errors naming the parameter (data.path), an unknown tool as
  a protocol error;
- started with --allow-writes, the writing methods are tools too.

Prints one line per check and exits 1 at the first failure.
"""
import asyncio
import json
import subprocess
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def query(hindsight, data, method, params):
    done = subprocess.run([hindsight, "query", "--data", data, method, "--params", json.dumps(params)],
                          capture_output=True, text=True)
    return json.loads(done.stdout)


async def session(hindsight, data, extra, body):
    server = StdioServerParameters(command=hindsight, args=["mcp", "--data", data] + extra)
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write) as client:
            init = await client.initialize()
            await body(client, init)


async def main(hindsight, data):
    methods = query(hindsight, data, "system.methods", {})["methods"]
    # log.subscribe answers through notifications on its connection, which a tool cannot carry.
    notifying = {"log.subscribe", "log.unsubscribe"}
    reading = {m["name"].replace(".", "_"): m for m in methods if not m["writes"] and m["name"] not in notifying}
    writing = {m["name"].replace(".", "_") for m in methods if m["writes"]}

    async def reader(client, init):
        check(init.server_info.name == "hindsight", "initialize names the server")
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        check(set(tools) == set(reading), f"tools/list offers the {len(reading)} reading methods and nothing else")
        for name, method in reading.items():
            check(tools[name].input_schema == method["params"], f"{name}'s input schema is the method's own")
        calls = [
            ("rbac_check", {"subject": "usr_erin", "permission": "project:deploy", "resource": "project/prj_storefront",
                            "at": "2026-03-05T12:00:00Z"}),
            ("audit_search", {"actor": "usr_alice", "limit": 5}),
            ("tokens_list", {"at": 250}),
            ("teams_invitations", {"team": "team_platform"}),
            ("analytics_builds", {"project": "prj_checkout"}),
            ("log_stats", {}),
        ]
        for name, arguments in calls:
            result = await client.call_tool(name, arguments)
            expected = query(hindsight, data, name.replace("_", ".", 1), arguments)
            answered = json.loads(result.content[0].text)
            check(not result.is_error and answered == expected, f"{name} answers as `hindsight query` does")
        refused = await client.call_tool("rbac_check", {"subject": "usr_erin", "permission": "project:fly",
                                                        "resource": "project/prj_storefront"})
        error = json.loads(refused.content[0].text)
        check(refused.is_error and error["data"]["path"] == "/params/permission",
              "a bad argument is a tool error naming the parameter")
        missing = await client.call_tool("backups_list", {})
        check(missing.is_error and json.loads(missing.content[0].text)["data"]["path"] == "/params/database",
              "a missing argument is a tool error naming it")
        try:
            await client.call_tool("log_append", {"events": []})
            check(False, "a writing tool is refused without --allow-writes")
        except MCPError:
            check(True, "a writing tool is refused without --allow-writes")

    await session(hindsight, data, [], reader)

    async def writer(client, init):
        tools = {tool.name for tool in (await client.list_tools()).tools}
        check(writing <= tools, "with --allow-writes the writing methods are tools too")

    await session(hindsight, data, ["--allow-writes"], writer)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
