"""`hermes tui`: the Textual control center. It talks to an engine only through a
`hermes_gateway.control.handle.GatewayHandle` (in-process or over the control socket)."""
