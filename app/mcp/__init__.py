"""`lakehouse mcp`: the workstation as an MCP server (stdio) for agent clients.

tools.py decides which facade operations become tools and how (names, JSON schemas from
the signatures, argument checks, JSON results) without importing the MCP SDK; server.py
speaks the protocol with the official `mcp` package, audits every call with the client's
name and enforces the per-tool rate limits. Nothing here is imported by another command,
so the SDK's import cost (~0.5 s) is paid by `lakehouse mcp` alone.
"""
