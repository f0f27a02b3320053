"""The agent runtime: model providers, the turn loop, tools, approvals, usage."""
