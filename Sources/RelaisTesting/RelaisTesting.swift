// Test fixtures shared by the test targets.
