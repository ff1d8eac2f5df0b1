/* ingest: placeholder, being written. */
