/* trailers: placeholder, being written. */
