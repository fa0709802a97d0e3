"""Hospital issuer: FHIR records to credentials, status lists, did:web, VC-API."""
