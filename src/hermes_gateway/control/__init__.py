"""The operator's seam: what a control center (the TUI, or anything on the control socket) may
see and do. `GatewayHandle` is implemented in-process (`local.LocalHandle`) and over the Unix
control socket of a running service (`remote.RemoteHandle`, served by `server.ControlServer`)."""
