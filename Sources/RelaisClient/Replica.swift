// The offline replica. See docs/SYNC.md for the contract it implements.
