// The `relais-hub` tool: see RelaisHubCommand.swift.
await RelaisHubCommand.entry()
