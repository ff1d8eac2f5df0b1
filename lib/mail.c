/* mail: placeholder, being written. */
