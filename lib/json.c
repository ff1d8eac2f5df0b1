/* json: placeholder, being written. */
