/* patch: placeholder, being written. */
