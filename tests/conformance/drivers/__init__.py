"""One module per platform, each defining `Driver` (a tests.conformance.driver.PlatformDriver).
The conformance suite finds them by listing this package: a new adapter adds a file here."""
