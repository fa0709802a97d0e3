"""health-mydata agent runtime: keys, storage, DIDs, credentials and proofs, messaging."""
