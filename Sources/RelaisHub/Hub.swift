// The hub. See docs/SYNC.md for the contract it implements.
